// A subrequest (plugin.h, 1.4): a bodiless request a plugin sends to an upstream group on behalf
// of a client request, auth_request's question "may this request pass?". It goes through the
// group's balancer and pool like a proxied request (the same connect, send and read timeouts,
// retries on other peers, passive health, balancer outcome and attempt_done), but answers no
// client: it reads the final response's head and at most PROXYD_SUBREQUEST_MAX_BODY bytes of its
// body, and hands them to the plugin's done callback once.
//
// The request's SubrequestSet owns each running subrequest. A finished one leaves the set before
// its done runs (done may end the request, and the set with it); ending the request (cancel_all,
// or the set's destruction) cancels those still running, without a call, closing their
// connections and ending their attempts as ABORTED. Worker thread only.
#pragma once

#include "http/header_list.hpp"
#include "http/message_head.hpp"
#include "http/response_parser.hpp"
#include "upstream/attempt.hpp"
#include "upstream/upstream_connection.hpp"

#include <memory>
#include <proxyd/plugin.h>
#include <string>
#include <vector>

// The plugin's handle for a subrequest is the Subrequest itself.
struct proxyd_subrequest {};

namespace proxyd {

class SubrequestSet;
class UpstreamPool;

class Subrequest final : public proxyd_subrequest,
                         private UpstreamConnection::Owner,
                         private ResponseParser::Events {
  public:
    using Done = void (*)(void *arg, const proxyd_subrequest_response *response);
    // What to send: the request line's method and path, and the fields the plugin gave.
    struct Spec {
        std::string method;
        std::string path;
        HeaderList fields;
    };

    // client is the request the subrequest serves (its view is what the balancer sees, with the
    // subrequest's method and path): it must outlive the subrequest, which the set ensures.
    Subrequest(SubrequestSet &set, UpstreamPool &pool, const proxyd_request &client, Spec spec, Done done,
               void *arg);
    ~Subrequest() override;
    Subrequest(const Subrequest &) = delete;
    Subrequest &operator=(const Subrequest &) = delete;

    // Picks a peer and sends. False when it failed at once (no peer, every connect refused at
    // once): done will not be called.
    bool start();

  private:
    void try_next_peer();
    const proxyd_request &view();
    std::string build_head() const;
    void fail(proxyd_outcome outcome, int uv_status, const char *what);
    void finish_response(bool reusable);
    // The end: leaves the set, calls done once, and is destroyed.
    void deliver(proxyd_subrequest_result result);
    void rearm_timer();

    // UpstreamConnection::Owner
    void on_upstream_connected(int status) override;
    void on_upstream_read(const char *data, size_t len) override;
    void on_upstream_closed(int status) override;
    void on_upstream_timeout() override;
    void on_upstream_write_done() override;

    // ResponseParser::Events
    void on_interim_response() override {}
    bool on_response_head() override;
    void on_response_body(std::string_view data) override;
    void on_response_complete() override {}

    SubrequestSet &set_;
    UpstreamPool &pool_;
    const proxyd_request &client_;
    proxyd_request view_{}; // the client's view with the subrequest's method and path
    Spec spec_;
    Done done_;
    void *arg_;
    UpstreamConnection *upstream_ = nullptr;
    std::unique_ptr<bool[]> tried_;
    MessageHead response_;
    ResponseParser parser_;
    Attempt attempt_;
    std::string body_; // at most PROXYD_SUBREQUEST_MAX_BODY bytes
    unsigned tries_ = 0;
    bool connected_ = false;
    bool response_started_ = false;
    bool truncated_ = false;
    bool starting_ = false; // inside start(): an end now is reported by its return value
    bool failed_at_start_ = false;
};

// The running subrequests of one request. Worker thread only.
class SubrequestSet {
  public:
    SubrequestSet() = default;
    ~SubrequestSet() { cancel_all(); }
    SubrequestSet(const SubrequestSet &) = delete;
    SubrequestSet &operator=(const SubrequestSet &) = delete;

    // Starts one; nullptr when it failed at once (then it is gone, and its done never runs).
    Subrequest *start(std::unique_ptr<Subrequest> subrequest);
    // Cancels a running one: false when handle is none of them (finished, or cancelled already).
    bool cancel(const proxyd_subrequest *handle);
    // Cancels every running one; no new one starts afterwards (closed()).
    void cancel_all();
    bool closed() const { return closed_; }
    // A finished subrequest leaves the set: its owner is the caller now.
    std::unique_ptr<Subrequest> take(Subrequest *subrequest);

  private:
    std::vector<std::unique_ptr<Subrequest>> running_;
    bool closed_ = false;
};

} // namespace proxyd
