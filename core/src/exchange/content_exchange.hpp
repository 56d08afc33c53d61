// An exchange answered by a content plugin through the response host calls (plugin.h). The
// plugin sets status and headers, then a body of bytes and file ranges in any order (ABI 1.5;
// one range or bytes before), then finishes; the core frames the response (Date, Server,
// Content-Length, Connection) and sends each file range with sendfile from the loop thread,
// waiting for the socket to become writable when it is full.
//
// Its phases, each entered once, in this order (any may be skipped):
//
//   kBody     a plugin whose hooks set max_body (ABI 1.1): the request body is read into the
//             exchange before handle runs (413 past the limit)
//   kPlugin   handle was called: the plugin owns the response until it calls finish ("parked"
//             when handle returned without finishing)
//   kSending  finish was called, or the core answered itself (500, 413): the head and the body or
//             file range go out
//   kCancelled / kOrphaned  the client left (or a stop cut the connection) in kPlugin. A plugin
//             with a cancelled hook is told once and the connection frees the exchange when the
//             hook returns (kCancelled). One without (ABI 1.0) keeps the response until it
//             finishes (kOrphaned): the exchange then lives in the worker's ContentOrphans and
//             keeps the closed connection's memory (request view, head, arena, which the plugin
//             may still read) until it ends, at finish or when the worker ends.
//
// Lifetime: owned by the client connection, except as an orphan (above). Worker thread only: the
// host calls refuse other threads (request_host_calls.cpp).
#pragma once

#include "config/config.hpp"
#include "exchange/exchange.hpp"
#include "exchange/request_filters.hpp"
#include "exchange/request_handle.hpp"

#include <proxyd/plugin.h>
#include <string>
#include <uv.h>
#include <vector>

namespace proxyd {

class ExchangeClient;
class ExchangeWorker;
struct WritablePoll;

class ContentExchange final : public Exchange {
  public:
    ContentExchange(ExchangeClient &client, const PluginInstance &handler);
    ~ContentExchange() override;

    void start() override;

    // The worker whose thread alone may call the response host calls.
    const ExchangeWorker &worker() const { return worker_; }

    // Response host calls (request_host_calls.cpp).
    int set_status(int status);
    int add_header(std::string_view name, std::string_view value);
    int set_body(std::string_view data);
    int set_file(int fd, uint64_t offset, uint64_t length);
    int finish();

    void on_request_body(std::string_view data) override;
    void on_request_complete() override;
    void on_client_drained() override;
    bool on_client_gone() override;
    bool plugin_answering() const override { return phase_ == Phase::kPlugin; }

    proxyd_response_handle *handle() { return reinterpret_cast<proxyd_response_handle *>(this); }
    static ContentExchange *from(proxyd_response_handle *h) { return reinterpret_cast<ContentExchange *>(h); }

  private:
    enum class Phase : uint8_t { kBody, kPlugin, kSending, kCancelled, kOrphaned };

    void call_handle();
    // The plugin's status and fields (and Server) as response-head filters see them.
    FilteredResponseHead plugin_head() const;
    void refuse_body(int status);
    bool plugin_may_answer() const { return phase_ == Phase::kPlugin || phase_ == Phase::kOrphaned; }
    // A file range of the body and the bytes the plugin gave after it, before the next range.
    struct FileRange {
        int fd;
        uint64_t offset;
        uint64_t remaining;
        std::string after;
    };

    void send_file_chunk();
    void copy_file_chunk();
    // Closes the current range's file and queues its trailing bytes; true when the next range may
    // be sent at once (sendfile must wait until those bytes have left the queue).
    bool next_file_range();
    // The range handed to the client to read itself (ExchangeClient::send_file): true, and it
    // is done here.
    bool hand_over_last_range(FileRange &range);
    void wait_writable(int out_fd);
    void complete_file();
    void fail();

    // One sendfile call at most this much, so one large file cannot hog the loop.
    static constexpr uint64_t kMaxSendfileChunk = 4 * 1024 * 1024;

    ExchangeClient *client_;                    // null once the client is gone
    ExchangeClient *kept_connection_ = nullptr; // an orphan keeps its closed connection's memory
    ExchangeWorker &worker_;
    const PluginInstance &handler_;
    // What the plugin's request points at: the connection's view and handle, with the body.
    proxyd_request request_{};
    proxyd_request_handle request_handle_{};
    std::string request_body_;
    uint64_t body_limit_ = 0;  // 0: the plugin does not read bodies
    std::string head_extra_;   // "Name: value\r\n" lines from the plugin
    std::string body_;         // the bytes before the first file range, sent with the head
    // The rest of the body, in the order the plugin gave it: the first range held here (a
    // whole file, the usual response, costs no allocation), the others on the heap.
    class FileRanges {
      public:
        bool empty() const { return count_ == 0; }
        size_t size() const { return count_; }
        FileRange &operator[](size_t i) { return i == 0 ? first_ : more_[i - 1]; }
        const FileRange &operator[](size_t i) const { return i == 0 ? first_ : more_[i - 1]; }
        FileRange &back() { return (*this)[count_ - 1]; }
        void push_back(FileRange range) {
            if (count_++ == 0)
                first_ = std::move(range);
            else
                more_.push_back(std::move(range));
        }
        // Whether a range from index on still holds fd (a plugin may give one descriptor for
        // several ranges: it is closed once, after the last of them).
        bool holds(int fd, size_t from) const {
            for (size_t i = from; i < count_; ++i)
                if ((*this)[i].fd == fd) return true;
            return false;
        }

      private:
        FileRange first_{-1, 0, 0, {}};
        std::vector<FileRange> more_;
        size_t count_ = 0;
    };
    FileRanges files_;
    size_t current_file_ = 0; // the range being sent; those before it are done
    std::string file_head_;   // TLS: the head, sent with the file's first chunk
    int status_ = 200;
    WritablePoll *poll_ = nullptr;
    bool *ended_during_handle_ = nullptr; // call_handle's flag while the hook runs: set when deleted
    Phase phase_ = Phase::kPlugin;
    bool sending_file_ = false;
    bool request_complete_ = false; // the request's message ended (on_request_complete)
    bool keep_alive_ = false;       // what the head finish wrote says of the connection
    bool use_sendfile_ = true;      // false once the kernel refused sendfile for this file
};

} // namespace proxyd
