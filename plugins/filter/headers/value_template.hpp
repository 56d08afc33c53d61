// A header value with variables, parsed once at load and rendered per request:
// "$request_id", "${scheme}://$host", "$$" for a literal dollar sign. The variables are
// $client_address, $request_id, $scheme, $host, $protocol ("HTTP/2.0") and $request_time
// (seconds since the request began, to the millisecond: "0.012", as nginx's).
#ifndef PROXYD_PLUGINS_FILTER_HEADERS_VALUE_TEMPLATE_HPP
#define PROXYD_PLUGINS_FILTER_HEADERS_VALUE_TEMPLATE_HPP

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd::headers {

// What the variables stand for in one request; views valid while the request is.
struct Variables {
    std::string_view client_address;
    std::string_view request_id;
    std::string_view scheme;
    std::string_view host;
    std::string_view protocol;
    std::string_view request_time;
};

class ValueTemplate {
  public:
    // The template, or nullopt with *error saying what is wrong ("unknown variable '$hots'").
    static std::optional<ValueTemplate> parse(std::string_view text, std::string *error);

    // True when the value has no variable: literal() is then the whole value.
    bool is_literal() const { return parts_.size() <= 1 && (parts_.empty() || parts_[0].variable == kNone); }
    std::string_view literal() const { return parts_.empty() ? std::string_view() : parts_[0].text; }
    std::string render(const Variables &variables) const;
    // $request_time reads the clock: rendered only when a value names it.
    bool uses_request_time() const {
        for (const Part &part : parts_)
            if (part.variable == kRequestTime) return true;
        return false;
    }

  private:
    enum Variable { kNone, kClientAddress, kRequestId, kScheme, kHost, kProtocol, kRequestTime };
    struct Part {
        Variable variable = kNone; // kNone: text is literal
        std::string text;
    };
    std::vector<Part> parts_;
};

} // namespace proxyd::headers

#endif
