// An HTTP/2 stream's request as the HTTP/1.1 bytes a stream-backed ClientConnection parses, so
// that every rule, filter, route and exchange runs on it unchanged (Apache mod_http2's model):
// the request line from :method and :path, the fields as they came (Host from :authority, the
// cookie crumbs joined by H2Session), and a body whose length the client did not declare framed
// as chunked. No I/O; unit tested.
#pragma once

#include "h2/h2_session.hpp"

#include <string>
#include <string_view>

namespace proxyd {

class H2RequestRender {
  public:
    // The request line and fields, up to the blank line, appended to out (a buffer its owner
    // reuses for every stream, so a head costs no allocation). Decides the body's framing.
    void head(const H2RequestHead &request, std::string &out);
    std::string head(const H2RequestHead &request) {
        std::string out;
        head(request, out);
        return out;
    }
    // One DATA frame's bytes as the body framing wants them (a chunk, or as they are).
    void body(std::string_view data, std::string &out) const;
    // The client's END_STREAM: the last chunk when the body is chunked, else nothing.
    void end(std::string &out) const;
    bool chunked() const { return chunked_; }

  private:
    bool chunked_ = false;
};

} // namespace proxyd
