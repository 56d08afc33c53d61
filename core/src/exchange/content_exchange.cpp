#include "exchange/content_exchange.hpp"

#include "exchange/content_orphans.hpp"
#include "exchange/exchange_client.hpp"
#include "exchange/exchange_worker.hpp"
#include "http/header_rules.hpp"
#include "http/response_head_writer.hpp"
#include "plugin/abi_sizes.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>

namespace proxyd {

// A uv_poll on a dup of the client socket: libuv owns the socket's own epoll registration, and a
// second registration of the same fd is refused, so writability is watched through a duplicate.
// Freed in its close callback, which may run after the exchange is gone.
struct WritablePoll {
    uv_poll_t poll;
    int fd;
    ContentExchange *owner;

    static void close(WritablePoll *p) {
        p->owner = nullptr;
        uv_close(reinterpret_cast<uv_handle_t *>(&p->poll), [](uv_handle_t *h) {
            auto *self = static_cast<WritablePoll *>(h->data);
            ::close(self->fd);
            delete self;
        });
    }
};

ContentExchange::ContentExchange(ExchangeClient &client, const PluginInstance &handler)
    : client_(&client), worker_(client.worker()), handler_(handler), request_(client.request()) {
    request_handle_ = *client.request().handle;
    request_.handle = &request_handle_;
    const auto &hooks = *handler_.descriptor().content;
    if (PROXYD_ABI_HAS(hooks, proxyd_content_hooks, max_body) && hooks.max_body > 0) {
        uint64_t listener_limit = client.listener().limits.max_body_bytes;
        body_limit_ = listener_limit ? std::min(hooks.max_body, listener_limit) : hooks.max_body;
    }
}

ContentExchange::~ContentExchange() {
    if (ended_during_handle_) *ended_during_handle_ = true;
    if (poll_) WritablePoll::close(poll_);
    for (size_t i = 0; i < files_.size(); ++i)
        if (files_[i].fd >= 0 && !files_.holds(files_[i].fd, i + 1)) ::close(files_[i].fd);
    if (kept_connection_) kept_connection_->release_request_hold();
}

void ContentExchange::start() {
    ExchangeClient &c = *client_;
    if (body_limit_ == 0 || !c.request_has_body()) return call_handle();
    if (c.request_content_length() > 0 && static_cast<uint64_t>(c.request_content_length()) > body_limit_)
        return refuse_body(413);
    phase_ = Phase::kBody;
    // The client waits for this before sending the body (RFC 9110 §10.1.1); the request parser
    // has refused any other expectation. An HTTP/2 stream gets it as an interim HEADERS.
    if (c.http_minor() < 1 || !c.head().find("expect")) return;
    if (!c.frames_body()) return c.send("HTTP/1.1 100 Continue\r\n\r\n");
    std::string unused; // the head goes to the stream as fields
    ResponseHeadWriter head = c.start_head(unused, 100, {});
    c.end_interim_head(head);
}

void ContentExchange::on_request_body(std::string_view data) {
    if (phase_ != Phase::kBody) {
        if (client_) client_->drop_request_body(data.size());
        return;
    }
    if (request_body_.size() + data.size() > body_limit_) return refuse_body(413);
    request_body_.append(data);
}

void ContentExchange::on_request_complete() {
    request_complete_ = true;
    if (phase_ != Phase::kBody) return;
    request_handle_.body = &request_body_;
    call_handle();
}

void ContentExchange::refuse_body(int status) {
    ExchangeClient &c = *client_;
    if (c.worker().logger().enabled(PROXYD_LOG_INFO))
        c.worker().logger().info("client " + std::string(c.client_ip()) + ": request body over the " +
                                 std::to_string(body_limit_) + " bytes plugin " + handler_.module().name() +
                                 " (" + handler_.label() + ") reads, answering " + std::to_string(status));
    phase_ = Phase::kSending;
    c.send_error(status, true);
}

void ContentExchange::call_handle() {
    ExchangeClient &c = *client_;
    phase_ = Phase::kPlugin;
    const auto &hooks = *handler_.descriptor().content;
    // A finish inside the hook may end the exchange there (outside the parser, after a pending
    // filter: the connection deletes it and may start the next pipelined request), and the
    // hook's return code then belongs to an answer already given: nothing of this may be read.
    bool ended = false;
    ended_during_handle_ = &ended;
    int rc = hooks.handle(handler_.raw(), worker_.plugin_worker(&handler_), &request_, handle());
    if (ended) return;
    ended_during_handle_ = nullptr;
    if (rc != PROXYD_OK && phase_ == Phase::kPlugin) {
        c.worker().logger().error("plugin " + handler_.module().name() + " (" + handler_.label() +
                                  ") failed to answer " + std::string(c.method()) + " " +
                                  std::string(c.head().target()) + " (code " + std::to_string(rc) + ")");
        phase_ = Phase::kSending;
        c.send_error(500, false);
    }
}

int ContentExchange::set_status(int status) {
    if (!plugin_may_answer()) return PROXYD_ESTATE;
    if (status < 200 || status > 999) return PROXYD_EINVAL;
    status_ = status;
    return PROXYD_OK;
}

int ContentExchange::add_header(std::string_view name, std::string_view value) {
    if (!plugin_may_answer()) return PROXYD_ESTATE;
    if (name.empty()) return PROXYD_EINVAL;
    for (char ch : name)
        if (ch <= ' ' || ch == ':' || ch == 127) return PROXYD_EINVAL;
    for (char ch : value)
        if (ch == '\r' || ch == '\n' || ch == '\0') return PROXYD_EINVAL; // no header injection
    // The core owns the framing and connection headers.
    if (iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
        iequals(name, "connection") || iequals(name, "date"))
        return PROXYD_EINVAL;
    // The listener's HSTS replaces the plugin's, as it replaces a backend's.
    if (client_ && !client_->listener().strict_transport_security.empty() &&
        iequals(name, "strict-transport-security"))
        return PROXYD_OK;
    // A static file's few fields (type, length's validators, ranges) fit the first allocation,
    // where growing from empty took three.
    if (head_extra_.empty()) head_extra_.reserve(192);
    head_extra_.append(name).append(": ").append(value).append("\r\n");
    return PROXYD_OK;
}

int ContentExchange::set_body(std::string_view data) {
    if (!plugin_may_answer()) return PROXYD_ESTATE;
    (files_.empty() ? body_ : files_.back().after).append(data);
    return PROXYD_OK;
}

int ContentExchange::set_file(int fd, uint64_t offset, uint64_t length) {
    if (!plugin_may_answer()) {
        // A descriptor an earlier range holds is closed after that range.
        if (!files_.holds(fd, current_file_)) ::close(fd);
        return PROXYD_ESTATE;
    }
    // Kept even when empty: a later range may name the same descriptor, which must stay open
    // until then (the sending loop passes over an empty range, closing what no later one holds).
    files_.push_back(FileRange{fd, offset, length, {}});
    return PROXYD_OK;
}

int ContentExchange::finish() {
    if (phase_ == Phase::kOrphaned) {
        worker_.content_orphans().remove(this);
        delete this;
        return PROXYD_OK;
    }
    if (phase_ != Phase::kPlugin || !client_) return PROXYD_ESTATE;
    phase_ = Phase::kSending;
    ExchangeClient &c = *client_;
    // Response-head filters see the plugin's status and fields (Server too) and change them.
    std::optional<FilteredResponseHead> filtered;
    if (c.filters_response_heads()) {
        filtered = plugin_head();
        c.filter_response_head(*filtered);
        status_ = filtered->status;
    }
    bool head_only = c.method() == "HEAD";
    bool bodyless_status = status_ == 204 || status_ == 304;
    uint64_t length = body_.size();
    for (size_t i = 0; i < files_.size(); ++i)
        length += files_[i].remaining + files_[i].after.size();
    // An answer before the end of a body the plugin does not read (handle runs at the head): the
    // rest is read and dropped after it when the client allows (discard_request_body), else the
    // answer ends the connection, and says so, as the rest could not be told from a next
    // request. A body that came whole with the head is read to its end after the answer.
    keep_alive_ = c.wants_keep_alive() && (request_complete_ || !c.request_has_body() ||
                                           c.request_body_in_input() || c.discard_request_body());
    bool keep_alive = keep_alive_;

    std::string out;
    out.reserve(256 + head_extra_.size() + (head_only ? 0 : body_.size()));
    ResponseHeadWriter head = c.start_head(out, status_, {});
    head.strict_transport_security(c.listener().strict_transport_security);
    const std::string &date = c.worker().dates().http_date();
    if (filtered) {
        head.fields(filtered->fields);
    } else {
        head.origin_fields(date);
        head.formatted_fields(head_extra_);
    }
    HeadEnding ending;
    // A 304 describes a representation it does not carry, whose length the plugin did not give.
    if (status_ != 304) ending.content_length = length;
    ending.keep_alive = keep_alive;
    ending.client_minor = c.http_minor();
    c.record().status = status_; // before the head: an HTTP/2 stream may answer 502 instead
    c.end_head(head, date, ending);

    bool send_body = !head_only && !bodyless_status;
    if (send_body) out.append(body_);
    // File bytes are counted as they leave, as a proxied body's are: a response cut short (the
    // client gone, a stop's grace period over) is logged with what was sent, as nginx's
    // $body_bytes_sent, not with its length. A complete response's counts add up to its length.
    c.record().body_bytes = send_body ? body_.size() : 0;
    bool file_follows = send_body && !files_.empty();
    if (file_follows && !c.sendfile_allowed()) {
        // TLS encrypts in user space, HTTP/2 frames: the file is read and sent through the connection
        // instead, the head with the first bytes, so that a small file shares its head's record.
        use_sendfile_ = false;
        sending_file_ = true;
        file_head_ = std::move(out);
        if (c.queued_bytes() == 0) send_file_chunk();
        return PROXYD_OK;
    }
    // (Not before an empty range: nothing might follow to release the held head.)
    if (file_follows && files_[0].remaining > 0 && c.queued_bytes() == 0 && c.writable() &&
        c.sendfile_allowed()) {
        // MSG_MORE: the kernel holds the head to go out with the file's first bytes, in full
        // segments, rather than pushing it alone (TCP_NODELAY) just before sendfile.
        ssize_t sent = ::send(c.fd(), out.data(), out.size(), MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent > 0) {
            c.metrics().bytes_sent.add(static_cast<uint64_t>(sent));
            out.erase(0, static_cast<size_t>(sent));
        }
    }
    c.send(out);
    if (file_follows) {
        // The file follows once the head has left the write queue (on_client_drained).
        sending_file_ = true;
        if (c.queued_bytes() == 0) send_file_chunk();
        return PROXYD_OK;
    }
    c.finish_exchange(keep_alive);
    return PROXYD_OK;
}

FilteredResponseHead ContentExchange::plugin_head() const {
    FilteredResponseHead head;
    head.status = status_;
    head.fields.reserve(8, 0);
    head.fields.add_viewed("Server", "proxyd");
    // head_extra_ holds "Name: value\r\n" lines that add_header checked: a name is a token (no
    // colon), a value holds no CR. The list views them: head_extra_ outlives it (it is made and
    // written within finish), and filters' edits keep their own text.
    std::string_view lines = head_extra_;
    while (!lines.empty()) {
        size_t colon = lines.find(':');
        size_t end = lines.find('\r', colon);
        head.fields.add_viewed(lines.substr(0, colon), lines.substr(colon + 2, end - colon - 2));
        lines.remove_prefix(end + 2);
    }
    return head;
}

void ContentExchange::on_client_drained() {
    if (!sending_file_ || !client_ || (poll_ && poll_->owner)) return;
    if (use_sendfile_ ? client_->queued_bytes() == 0 : client_->queued_bytes() <= ExchangeClient::kLowWater)
        send_file_chunk();
}

void ContentExchange::send_file_chunk() {
    ExchangeClient &c = *client_;
    int out_fd = c.fd();
    while (current_file_ < files_.size()) {
        FileRange &range = files_[current_file_];
        if (range.remaining == 0) {
            if (next_file_range()) continue;
            return; // on_client_drained() goes on once the bytes between two ranges have left
        }
        // sendfile(2) itself, not uv_fs_sendfile: libuv 1.44 (Debian 12) tries copy_file_range
        // first, which a socket refuses, and then falls back to a read/write emulation that
        // poll()s the socket with no timeout, blocking the whole loop until the client reads.
        // On a non-blocking socket sendfile sends what fits and says EAGAIN for the rest.
        off_t offset = static_cast<off_t>(range.offset);
        size_t want = static_cast<size_t>(std::min<uint64_t>(range.remaining, kMaxSendfileChunk));
        ssize_t sent = use_sendfile_ ? ::sendfile(out_fd, range.fd, &offset, want) : -1;
        if (sent < 0 && use_sendfile_ && (errno == EINVAL || errno == ENOSYS)) use_sendfile_ = false;
        if (!use_sendfile_) return copy_file_chunk();
        if (sent < 0 && errno == EINTR) continue;
        if (sent < 0 && errno == EAGAIN) return wait_writable(out_fd);
        if (sent <= 0) {
            c.worker().logger().warn("sendfile to client " + std::string(c.client_ip()) + " failed: " +
                                     (sent < 0 ? std::strerror(errno) : "the file shrank while being sent"));
            return fail();
        }
        c.metrics().bytes_sent.add(static_cast<uint64_t>(sent));
        c.record().body_bytes += static_cast<uint64_t>(sent);
        range.offset += static_cast<uint64_t>(sent);
        range.remaining -= static_cast<uint64_t>(sent);
    }
    complete_file();
}

bool ContentExchange::next_file_range() {
    ExchangeClient &c = *client_;
    FileRange &range = files_[current_file_++];
    if (range.fd >= 0 && !files_.holds(range.fd, current_file_)) ::close(range.fd);
    range.fd = -1;
    if (!range.after.empty()) {
        // Through the connection's queue like any body bytes (TLS and HTTP/2 frame them).
        c.send(range.after);
        c.record().body_bytes += range.after.size();
        std::string().swap(range.after);
    }
    if (current_file_ == files_.size()) return true; // complete_file() may finish with bytes queued
    return use_sendfile_ ? c.queued_bytes() == 0 : c.queued_bytes() <= ExchangeClient::kLowWater;
}

// For files whose filesystem cannot sendfile: read chunks and queue them like any body bytes
// until the queue passes the low-water mark; on_client_drained() asks for more. A chunk the
// socket takes whole queues nothing, so the loop goes on at once.
void ContentExchange::copy_file_chunk() {
    ExchangeClient &c = *client_;
    constexpr size_t kChunk = 64 * 1024;
    // A small file (the usual one) is read on the stack: a 64 KiB block from the heap and back
    // costs more than the read (glibc consolidates its free lists for both).
    constexpr size_t kSmallFile = 16 * 1024;
    // Read into bytes nobody clears first: send() copies what it keeps (once, into the socket's
    // queue) before it returns; an HTTP/2 stream lends its own space instead (below).
    std::unique_ptr<char[]> chunk;
    char small[kSmallFile];
    while (current_file_ < files_.size()) {
        FileRange &range = files_[current_file_];
        if (range.remaining == 0) {
            next_file_range();
            continue;
        }
        if (c.queued_bytes() > ExchangeClient::kLowWater || !c.writable()) return;
        if (range.remaining > kChunk && hand_over_last_range(range)) continue;
        size_t want = static_cast<size_t>(std::min<uint64_t>(range.remaining, kChunk));
        // An HTTP/2 stream lends the space its DATA frames are made in: read there, the bytes
        // are sent without a copy.
        std::span<char> space = file_head_.empty() ? c.body_space(want) : std::span<char>();
        char *into = small;
        if (!space.empty()) {
            into = space.data();
            want = std::min(want, space.size());
        } else if (range.remaining > kSmallFile) {
            if (!chunk) chunk = std::make_unique_for_overwrite<char[]>(kChunk);
            into = chunk.get();
        }
        ssize_t n = ::pread(range.fd, into, want, static_cast<off_t>(range.offset));
        if (n <= 0) {
            c.worker().logger().warn("reading a file for client " + std::string(c.client_ip()) + " failed: " +
                                     (n < 0 ? std::strerror(errno) : "the file shrank while being sent"));
            return fail();
        }
        range.offset += static_cast<uint64_t>(n);
        range.remaining -= static_cast<uint64_t>(n);
        c.record().body_bytes += static_cast<uint64_t>(n);
        uv_buf_t bufs[2] = {uv_buf_init(file_head_.data(), static_cast<unsigned>(file_head_.size())),
                            uv_buf_init(into, static_cast<unsigned>(n))};
        bool with_head = !file_head_.empty();
        c.send(with_head ? bufs : bufs + 1, with_head ? 2 : 1);
        if (!space.empty()) c.return_body_space();
        file_head_.clear();
    }
    if (current_file_ == files_.size()) complete_file();
}

// An HTTP/2 stream reads a large file itself, a block as its frames are made: the bytes are
// encrypted while that read left them in cache, where a chunk read here would wait in the stream's
// queue behind the other streams' frames, and go cold. Only the body's last range, with nothing
// after it (the stream takes nothing behind a file); a file that fits one chunk is read here.
bool ContentExchange::hand_over_last_range(FileRange &range) {
    ExchangeClient &c = *client_;
    if (!c.frames_body() || current_file_ + 1 != files_.size() || !range.after.empty()) return false;
    if (!file_head_.empty()) {
        c.send(file_head_);
        std::string().swap(file_head_);
    }
    if (!c.send_file(range.fd, range.offset, range.remaining)) return false;
    c.record().body_bytes += range.remaining; // the stream logs what it delivered of it
    range.fd = -1;                            // the stream's now
    range.remaining = 0;
    return true;
}

void ContentExchange::wait_writable(int out_fd) {
    if (!poll_) {
        int dup_fd = ::dup(out_fd);
        if (dup_fd < 0) return fail();
        poll_ = new WritablePoll{{}, dup_fd, this};
        uv_poll_init(client_->worker().loop(), &poll_->poll, dup_fd);
        poll_->poll.data = poll_;
    }
    poll_->owner = this;
    client_->await_writable();
    uv_poll_start(&poll_->poll, UV_WRITABLE, [](uv_poll_t *p, int status, int) {
        auto *wp = static_cast<WritablePoll *>(p->data);
        uv_poll_stop(p);
        ContentExchange *self = wp->owner;
        if (!self) return;
        wp->owner = nullptr;
        if (status < 0) return self->fail();
        self->send_file_chunk();
    });
}

void ContentExchange::complete_file() {
    sending_file_ = false;
    // With the copy fallback, the last chunk may still be queued: finishing now is fine, the
    // connection sends queued bytes in order before anything of the next response.
    client_->finish_exchange(keep_alive_ && client_->wants_keep_alive());
}

void ContentExchange::fail() {
    // The head is out: the only honest signal left is to cut the connection short.
    if (client_) client_->abort();
}

bool ContentExchange::on_client_gone() {
    ExchangeClient *client = std::exchange(client_, nullptr);
    if (phase_ != Phase::kPlugin) return false; // nothing of it is left with the plugin
    const auto &hooks = *handler_.descriptor().content;
    if (PROXYD_ABI_HAS(hooks, proxyd_content_hooks, cancelled) && hooks.cancelled) {
        // Every response call is refused from here on; the connection frees the exchange, and
        // with it the handle, as soon as the hook returns.
        phase_ = Phase::kCancelled;
        hooks.cancelled(handler_.raw(), worker_.plugin_worker(&handler_), handle());
        return false;
    }
    // ABI 1.0: the plugin may still read the request and finish the response later.
    phase_ = Phase::kOrphaned;
    kept_connection_ = client;
    client->hold_request();
    worker_.content_orphans().add(this);
    return true;
}

size_t ContentOrphans::free_all() {
    size_t count = orphans_.size();
    auto left = std::exchange(orphans_, {});
    for (ContentExchange *orphan : left)
        delete orphan;
    return count;
}

} // namespace proxyd
