// An exchange answered by a content plugin through the response host calls (plugin.h). The
// plugin sets status and headers, then bytes or a file range, then finishes; the core frames the
// response (Date, Server, Content-Length, Connection) and sends a file range with sendfile from
// the loop thread, waiting for the socket to become writable when it is full.
#pragma once

#include "config/config.hpp"
#include "server/exchange.hpp"

#include <proxyd/plugin.h>
#include <string>
#include <uv.h>

namespace proxyd {

class ClientConnection;
struct WritablePoll;

class ContentExchange final : public Exchange {
  public:
    ContentExchange(ClientConnection &client, const PluginInstance &handler);
    ~ContentExchange() override;

    void start();

    // Response host calls (request_host_calls.cpp).
    int set_status(int status);
    int add_header(std::string_view name, std::string_view value);
    int set_body(std::string_view data);
    int set_file(int fd, uint64_t offset, uint64_t length);
    int finish();

    void on_request_body(std::string_view) override {}
    void on_request_complete() override {}
    void on_client_drained() override;
    bool on_client_gone() override;

    proxyd_response_handle *handle() { return reinterpret_cast<proxyd_response_handle *>(this); }
    static ContentExchange *from(proxyd_response_handle *h) { return reinterpret_cast<ContentExchange *>(h); }

  private:
    void send_file_chunk();
    void copy_file_chunk();
    void wait_writable(int out_fd);
    void complete_file();
    void fail();

    // One sendfile call at most this much, so one large file cannot hog the loop.
    static constexpr uint64_t kMaxSendfileChunk = 4 * 1024 * 1024;

    ClientConnection *client_; // null once the client is gone
    const PluginInstance &handler_;
    std::string head_extra_; // "Name: value\r\n" lines from the plugin
    std::string body_;
    int status_ = 200;
    int file_fd_ = -1;
    uint64_t file_offset_ = 0;
    uint64_t file_remaining_ = 0;
    WritablePoll *poll_ = nullptr;
    bool finished_ = false;   // the plugin called finish
    bool sending_file_ = false;
    bool use_sendfile_ = true; // false once the kernel refused sendfile for this file
    bool orphaned_ = false;   // the client left before the plugin finished
};

} // namespace proxyd
