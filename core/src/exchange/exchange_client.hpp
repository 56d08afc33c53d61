// What an exchange needs of the client connection it answers (exchange.hpp): the request as
// parsed and routed, the writes to the client with their backpressure, the end of the
// response, the tunnel after a 101 and the request's filters. server/'s ClientConnection
// implements it (client_connection.hpp says what each call does), so no exchange includes the
// connection itself (core/README.md, the layers). Worker thread only.
#pragma once

#include "admin/metrics.hpp"
#include "config/config.hpp"
#include "exchange/exchange.hpp"
#include "exchange/exchange_worker.hpp"
#include "exchange/request_filters.hpp"
#include "http/header_list.hpp"
#include "http/header_rules.hpp"
#include "http/message_head.hpp"
#include "http/response_head_writer.hpp"
#include "net/backpressure.hpp"
#include "tls/tls_session.hpp"

#include <cstddef>
#include <cstdint>
#include <proxyd/plugin.h>
#include <span>
#include <string_view>
#include <uv.h>

namespace proxyd {

class ExchangeClient {
  public:
    virtual ~ExchangeClient() = default;

    virtual ExchangeWorker &worker() = 0;
    virtual const ListenerConfig &listener() const = 0;
    virtual ListenerMetrics &metrics() = 0;
    virtual AccessRecord &record() = 0;

    // -- the request --
    virtual const MessageHead &head() const = 0;
    virtual const proxyd_request &request() const = 0;
    virtual proxyd_request &request() = 0;
    virtual std::string_view method() const = 0;
    virtual uint8_t http_minor() const = 0;
    virtual bool wants_keep_alive() const = 0;
    virtual bool path_rewritten() const = 0;
    virtual bool request_has_body() const = 0;
    // The body's last byte came in the read that carried the head (RequestParser::body_in_input).
    virtual bool request_body_in_input() const = 0;
    virtual bool request_chunked() const = 0;
    // A chunked request body's trailer fields, as they came, or null when it had none; complete
    // once the exchange heard on_request_complete(), valid while the request is.
    virtual const MessageHead *request_trailers() const = 0;
    virtual int64_t request_content_length() const = 0;
    // The Host the client sent (or its absolute-form target's authority, or an HTTP/2 stream's
    // :authority), whatever a filter set since: what X-Forwarded-Host and Forwarded's host= say.
    virtual std::string_view received_host() const = 0;
    virtual std::string_view client_ip() const = 0;
    virtual const TlsSession *tls_session() const = 0;
    virtual const TlsClientCertificate &tls_client_certificate() = 0;
    // Request-body flow control for exchanges that forward it.
    virtual void pause_body() = 0;
    virtual void resume_body() = 0;
    // For an answer that does not use the body: the rest of it is to be read and dropped after
    // the response and the connection kept, as nginx does. True when it will be; false (the
    // answer must close the connection) for a body over the discard limit, a client waiting for
    // 100 Continue, an HTTP/2 stream, or a connection that closes anyway.
    virtual bool discard_request_body() = 0;
    // Body bytes the exchange was given and does not use (a content handler that answered
    // without reading the body): they count against the discard limit whatever the answer's
    // state, so a client cannot push an unbounded body into an answer that lasts (a large file, a
    // slow handler). Past the limit the body is no longer read and the connection closes after
    // the answer.
    virtual void drop_request_body(size_t bytes) = 0;

    // -- the response --
    // A writer for a response head (every head goes through these): HTTP/1.1 text into out, which
    // the caller sends with the body's first bytes; on an HTTP/2 stream, fields, out left empty.
    virtual ResponseHeadWriter start_head(std::string &out, int status, std::string_view reason) = 0;
    // Ends the head as ResponseHeadWriter::end() does; on an HTTP/2 stream it goes out now.
    virtual void end_head(ResponseHeadWriter &head, std::string_view date, const HeadEnding &ending) = 0;
    // Ends an interim (1xx) head; an HTTP/2 stream passes it on as HEADERS (a 100 once).
    virtual void end_interim_head(ResponseHeadWriter &head) = 0;
    // The client frames the body itself, that is, the request came on an HTTP/2 stream: send()
    // takes the bare payload, never chunk framing, and a body whose length the head did not give
    // ends with finish_exchange().
    virtual bool frames_body() const = 0;
    virtual void send(std::string_view data) = 0;
    virtual void send(const uv_buf_t *bufs, size_t count) = 0;
    // For a client that frames the body itself, once the head went out: space to read about hint
    // body bytes into (a socket's, a file's), where send() then takes them without a copy;
    // empty where there is none (the producer reads into its own buffer). What one read put
    // there goes in one send() (which may write it out at once), before any bytes from
    // elsewhere and before the next call; then return_body_space() frees what is left.
    virtual std::span<char> body_space(size_t hint) = 0;
    // The read into body_space() is done, its bytes (if any) sent: the client frees what it
    // left of the space, so a response waiting for its producer's next read (an event stream,
    // a long poll) holds no block. After every read into the space that the response goes on
    // from, bytes or none; a read that ends it (EOF, an error) needs none: the queue goes with it.
    virtual void return_body_space() = 0;
    // For a client that frames the body itself: length body bytes of the file fd from offset,
    // after the bytes sent so far, which the client reads itself as it frames them (so they are
    // read just before they leave, and no copy of them waits in its queue). True: the client
    // owns fd from here, and nothing more of the body may follow but its end. False: the caller
    // keeps fd and sends the bytes itself.
    virtual bool send_file(int fd, uint64_t offset, uint64_t length) = 0;
    // For a client that frames the body itself: the body's trailer fields (options: the
    // Connection options of the response head), sent after the bytes sent so far, those that
    // trailer_fields.hpp lets through. Before the exchange finishes; borrowed for the call.
    virtual void send_trailers(const MessageHead &trailers, const ConnectionOptions &options) = 0;
    virtual size_t queued_bytes() const = 0;
    // Queued response bytes: above kHighWater the producer pauses, at kLowWater it resumes.
    static constexpr size_t kHighWater = Backpressure::kHighWater;
    static constexpr size_t kLowWater = Backpressure::kLowWater;
    virtual void await_writable() = 0;
    virtual int fd() const = 0;
    virtual bool encrypted() const = 0;
    virtual bool sendfile_allowed() const = 0;
    virtual bool writable() const = 0;
    virtual void finish_exchange(bool keep_alive) = 0;
    virtual void abort() = 0;
    // abort() for a response whose end is the connection's end (a body read until the close, as
    // an HTTP/1.0 client's): with a TCP reset, since a FIN would pass the cut off as the whole.
    virtual void abort_with_reset() = 0;
    virtual void send_error(int status, bool close) = 0;
    virtual void send_unavailable(unsigned retry_after_seconds, bool close) = 0;
    virtual void start_tunnel() = 0;
    virtual void shutdown_write() = 0;
    // An orphaned content exchange keeps the closed connection's memory (content_exchange.hpp).
    virtual void hold_request() = 0;
    virtual void release_request_hold() = 0;

    // -- filters --
    virtual RequestFilters &filters() = 0;
    virtual const HeaderList *edited_headers() const = 0;
    virtual bool filters_response_heads() const = 0;
    virtual bool filters_request_heads() const = 0;
    virtual void filter_response_head(FilteredResponseHead &head) = 0;
};

} // namespace proxyd
