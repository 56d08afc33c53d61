// Reads the HTTP/1.1 response a stream-backed ClientConnection writes (the exchanges' own bytes,
// head and body as they would go to an HTTP/1.1 client) and turns it into an HTTP/2 response:
// the project's ResponseParser (llhttp: HEAD, 204, 304 and 1xx bodiless, chunks checked), the
// status and fields with hop-by-hop ones and those the Connection field names dropped, names
// lower-cased, then the decoded body (chunked framing removed) and its end. Of the interim 1xx
// responses, 103 Early Hints is passed on (a browser may preload what its Link fields name);
// 100 Continue is not (proxyd answers Expect itself). No I/O; unit tested.
#pragma once

#include "h2/h2_session.hpp"
#include "http/message_head.hpp"
#include "http/response_parser.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace proxyd {

class H2ResponseReader final : private ResponseParser::Events {
  public:
    // Where the HTTP/2 response goes (H2Session's submit_response and send_data, for one stream).
    class Output {
      public:
        virtual ~Output() = default;
        virtual void response_head(int status, const std::vector<H2Field> &fields, bool has_body) = 0;
        virtual void response_data(std::string_view data, bool end) = 0;
        // A 103 Early Hints head before the final one.
        virtual void interim_head(int status, const std::vector<H2Field> &fields) {
            (void)status;
            (void)fields;
        }
    };

    H2ResponseReader(Output &output, bool head_request);
    H2ResponseReader(const H2ResponseReader &) = delete;
    H2ResponseReader &operator=(const H2ResponseReader &) = delete;

    // Response bytes as the exchange wrote them. False once they are not a valid response (the
    // stream must then be reset): error_text() says why.
    bool write(std::string_view bytes);
    // The writer is done: a body delimited by the end completes; any other unfinished response
    // is cut (false).
    bool finish();
    bool complete() const { return parser_.complete(); }
    const std::string &error_text() const { return error_; }

  private:
    void on_interim_response() override;
    bool on_response_head() override;
    // The head's fields for HTTP/2: hop-by-hop ones and those its Connection names dropped.
    std::vector<H2Field> h2_fields() const;
    void on_response_body(std::string_view data) override;
    void on_response_complete() override;

    Output &output_;
    ResponseLimits limits_;
    MessageHead head_;
    ResponseParser parser_;
    std::string error_;
    bool has_body_ = false;
};

} // namespace proxyd
