// What the filter kind (plugin.h, ABI 1.3) adds to one request: how far its chain got, the head
// as filters edited it, a filter's own answer, the final response head while response-head
// filters run, and the per-request states plugins keep (request_state_set).
//
// A connection makes one only when a request needs it (a chain to run, or a plugin keeping
// state): with no filter configured the request path never allocates or copies into it.
//
// The chain is the listener's filters, then, once routing chose a target, that target's: a
// filter is "reached" once its chain is, and reached filters see the response head (in reverse)
// and the log (in reverse), whichever filter answered. next() walks request_head hooks in order;
// pending() names the filter whose request_head returned PENDING until filter_resume or its
// cancelled hook.
//
// Lifetime: owned by the client connection, replaced for each request that needs one; its strings
// back the request view (method, path, query) until the request's memory goes. Worker thread.
#pragma once

#include "config/config.hpp"
#include "exchange/subrequest.hpp"
#include "http/header_list.hpp"
#include "http/message_head.hpp"

#include <cassert>
#include <optional>
#include <proxyd/plugin.h>
#include <string>
#include <vector>

namespace proxyd {

// Watches a waiting request's socket for a reset while reading is stopped (client_filters.cpp).
struct HangupWatch;
void close_hangup_watch(HangupWatch *watch);
// Ends a filter's wait that outlasts the listener's filter_timeout (client_filters.cpp).
struct PendingDeadline;
void close_pending_deadline(PendingDeadline *deadline);

// A final response head on its way through response-head filters.
struct FilteredResponseHead {
    int status = 200;
    bool status_changed = false; // the reason phrase the producer had no longer fits
    HeaderList fields;           // without the core's framing, Connection and Date fields
};

// A filter's answer (request_respond), sent once its hook returns RESPONDED or it resumes so.
struct FilterAnswer {
    int status = 200;
    HeaderList fields;
    std::string body;
};

class RequestFilters {
  public:
    // -- the chain --
    // At most twice (the listener's chain, then the target's). The chains are the config's, which
    // outlives every request of its generation: referred to, not copied.
    void reach(const FilterChain &chain) {
        assert(!reached_[1]);
        (reached_[0] ? reached_[1] : reached_[0]) = &chain;
        for (const PluginInstance *filter : chain) {
            const proxyd_filter_hooks &hooks = *filter->descriptor().filter;
            request_head_hooks_ = request_head_hooks_ || hooks.request_head;
            response_head_hooks_ = response_head_hooks_ || hooks.response_head;
            log_hooks_ = log_hooks_ || hooks.log;
        }
    }
    // A reached filter has a response_head hook: only then is a final head copied into a
    // HeaderList for filters to see (access, rate_limit or auth alone never look at it).
    bool filters_response_heads() const { return response_head_hooks_; }
    // A reached filter has a request_head hook: it may have removed or set fields, or decided on
    // them (auth), which a trailer of the same name must not undo upstream.
    bool filters_request_heads() const { return request_head_hooks_; }
    // The listener's chain has run (or was empty): routing, then the target's chain.
    bool routed() const { return routed_; }
    void set_routed() { routed_ = true; }
    // A reached filter has a log hook: only then is the exchange's summary made.
    bool logs() const { return log_hooks_; }
    // The next filter whose request_head is due, or nullptr when the reached chain is done.
    const PluginInstance *next() { return next_ < reached_count() ? reached_at(next_++) : nullptr; }
    // The reached filters, the listener's first: i below reached_count().
    size_t reached_count() const {
        return (reached_[0] ? reached_[0]->size() : 0) + (reached_[1] ? reached_[1]->size() : 0);
    }
    const PluginInstance *reached_at(size_t i) const {
        size_t first = reached_[0] ? reached_[0]->size() : 0;
        return i < first ? (*reached_[0])[i] : (*reached_[1])[i - first];
    }

    // -- where the request_head phase stands --
    // Inside a filter's request_head hook, or while it is pending: editing is allowed.
    bool editable() const { return in_request_head_ || pending_; }
    void set_in_request_head(bool in) { in_request_head_ = in; }
    const PluginInstance *pending() const { return pending_; }
    void set_pending(const PluginInstance *filter) { pending_ = filter; }
    // Set by request_route_to: routing is skipped (only a listener's filters may set it).
    std::optional<Target> route_to;

    // -- the request head as filters left it --
    // The edited field list, or nullptr while no filter changed a field.
    const HeaderList *headers() const { return headers_ ? &*headers_ : nullptr; }
    // The list to edit, made at the first edit: views of head's fields (the request's head,
    // which outlives this), not a copy of their text.
    HeaderList &edit_headers(const MessageHead &head) {
        if (!headers_) headers_.emplace(head, HeaderList::ViewHead{});
        return *headers_;
    }
    std::string method; // valid when method_edited
    bool method_edited = false;
    std::string path_and_query; // the request view's path and query point into it
    bool path_edited = false;
    bool host_set = false; // a filter set Host: it wins over an absolute-form target's authority

    // -- the request body while a filter is pending --
    std::string held_body;         // what arrived, for the exchange that follows
    bool body_held_paused = false; // reading paused because held_body grew past the high-water mark
    bool body_delivered = false;   // the exchange was told the body ended
    // While a filter is pending and reading is stopped (held bytes at their bound), a reset still
    // ends the request at once: a watch on the socket's errors (ClientConnection::watch_hangup).
    HangupWatch *hangup_watch = nullptr;
    // Running while a filter is pending: a plugin that never resumes nor answers does not hold
    // the request, and its connection, for ever (ClientConnection::start_pending_deadline).
    PendingDeadline *pending_deadline = nullptr;

    // -- answers and response heads --
    std::optional<FilterAnswer> answer;
    // Non-null only while response_head hooks run (response_head_* host calls).
    FilteredResponseHead *response_head = nullptr;

    // -- per-request states --
    // Keeps state under key, freeing the state it replaces.
    void set_state(const void *key, void *state, void (*free_state)(void *));
    void *state(const void *key) const;
    // Frees every state (once: after the log hooks), in the order they were set.
    void free_states();

    // -- subrequests (1.4) --
    // The request's running subrequests; cancelled when the request ends, before its states go.
    SubrequestSet subrequests;

    ~RequestFilters() {
        if (hangup_watch) close_hangup_watch(hangup_watch);
        if (pending_deadline) close_pending_deadline(pending_deadline);
        subrequests.cancel_all();
        free_states();
    }

  private:
    struct State {
        const void *key;
        void *state;
        void (*free_state)(void *);
    };

    const FilterChain *reached_[2] = {nullptr, nullptr};
    size_t next_ = 0;
    bool routed_ = false;
    bool request_head_hooks_ = false;
    bool response_head_hooks_ = false;
    bool log_hooks_ = false;
    bool in_request_head_ = false;
    const PluginInstance *pending_ = nullptr;
    std::optional<HeaderList> headers_;
    std::vector<State> states_;
};

} // namespace proxyd
