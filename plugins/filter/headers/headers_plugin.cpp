// filter/headers: sets, adds and removes request and response header fields, with values that
// may name $client_address, $request_id, $scheme, $host, $protocol and $request_time ($$ is a
// dollar sign). Per phase the removals run first, then the sets (replacing every field of that
// name by one), then the adds.
//
//   filters = [{ plugin = "headers",
//                request = { set = { "X-Client" = "$client_address" }, remove = ["X-Debug"] },
//                response = { set = { "Strict-Transport-Security" = "max-age=63072000" } } }]
//
// Response edits apply to every final response this filter's chain sees: proxied, a content
// plugin's, another filter's answer and proxyd's own error pages. Fields the core owns
// (Content-Length, Transfer-Encoding, Connection, Date; on requests Host cannot be removed or
// added twice) are refused at load, so a config that loads never has an edit fail at run time.
// Written on plugin.hpp's C++ helper.
#include "value_template.hpp"

#include <cctype>
#include <memory>
#include <optional>
#include <proxyd/plugin.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd::headers {
namespace {

using sdk::Config;

struct Edit {
    std::string name;
    ValueTemplate value;
};

struct Edits {
    std::vector<std::string> remove;
    std::vector<Edit> set;
    std::vector<Edit> add;
    bool empty() const { return remove.empty() && set.empty() && add.empty(); }
};

enum class Side { kRequest, kResponse };

using sdk::is_token;

bool same_name(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// Why the core would refuse this edit, or empty when it accepts it. op is "set", "add", "remove".
std::string refusal(Side side, std::string_view op, std::string_view name) {
    if (!is_token(name)) return "'" + std::string(name) + "' is not a valid header name";
    if (same_name(name, "Content-Length") || same_name(name, "Transfer-Encoding"))
        return "'" + std::string(name) + "' is the core's (it frames the message)";
    if (side == Side::kResponse && (same_name(name, "Connection") || same_name(name, "Date")))
        return "'" + std::string(name) + "' is the core's on responses";
    if (side == Side::kRequest && same_name(name, "Host") && op != "set")
        return "Host can only be set on requests (a request has exactly one)";
    return {};
}

// The request id rule plugin.h states for X-Request-ID (1 to 200 characters of
// [A-Za-z0-9._:-]): a literal that breaks it would be refused on every request, silently.
bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 200) return false;
    for (char c : id)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != ':' && c != '-')
            return false;
    return true;
}

std::optional<ValueTemplate> parse_value(const Config &node) {
    auto text = node.as_string("header value");
    if (!text) return std::nullopt;
    if (text->find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
        node.error("a header value cannot hold CR, LF or NUL");
        return std::nullopt;
    }
    std::string error;
    auto value = ValueTemplate::parse(*text, &error);
    if (!value) node.error(error);
    return value;
}

void parse_fields(const Config &table, Side side, std::string_view op, std::vector<Edit> &out) {
    if (!table.present()) return;
    if (table.type() != PROXYD_CONFIG_TABLE) {
        table.error("'" + std::string(op) + "' must be a table of header name = value");
        return;
    }
    for (auto &[name, value] : table.entries()) {
        if (std::string why = refusal(side, op, name); !why.empty()) {
            value.error(why);
            continue;
        }
        // add may give several values for one name: add = { "Link" = ["<a>", "<b>"] }.
        std::vector<Config> values = value.type() == PROXYD_CONFIG_ARRAY && op == "add"
                                         ? value.elements()
                                         : std::vector<Config>{value};
        for (const Config &v : values) {
            auto parsed = parse_value(v);
            if (!parsed) continue;
            if (side == Side::kRequest && same_name(name, "X-Request-ID") && parsed->is_literal() &&
                !valid_request_id(parsed->literal())) {
                v.error("not a valid request id (1 to 200 characters of A-Z a-z 0-9 . _ : -): the core would "
                        "refuse it on every request");
                continue;
            }
            out.push_back(Edit{std::string(name), std::move(*parsed)});
        }
    }
}

Edits parse_side(const Config &side_config, Side side) {
    Edits edits;
    if (!side_config.present()) return edits;
    if (!side_config.check_keys({"set", "add", "remove"})) return edits;
    parse_fields(side_config.child("set"), side, "set", edits.set);
    parse_fields(side_config.child("add"), side, "add", edits.add);
    Config remove = side_config.child("remove");
    if (remove.present() && remove.type() != PROXYD_CONFIG_ARRAY)
        remove.error("'remove' must be an array of header names");
    for (const Config &element : remove.elements()) {
        auto name = element.as_string("header name");
        if (!name) continue;
        if (std::string why = refusal(side, "remove", *name); !why.empty())
            element.error(why);
        else
            edits.remove.emplace_back(*name);
    }
    return edits;
}

// Seconds with millisecond resolution, "0.012" (nginx's $request_time); "-" from a core older
// than ABI 1.6, which does not say when the request began.
std::string request_time(const sdk::Request &request) {
    std::optional<uint64_t> elapsed = request.elapsed_ns();
    if (!elapsed) return "-";
    uint64_t ms = *elapsed / 1000000;
    std::string fraction = std::to_string(ms % 1000);
    return std::to_string(ms / 1000) + "." + std::string(3 - fraction.size(), '0') + fraction;
}

Variables variables_of(const sdk::Request &request, const std::string &time) {
    return Variables{request.client_address(), request.request_id(), request.scheme(),
                     request.host(),           request.protocol(),   time};
}

// Applies edits through set/add/remove callables of the request or the response head.
template <class Target> void apply(const Edits &edits, const sdk::Request &request, const Target &target) {
    for (const std::string &name : edits.remove)
        (void)target.remove_header(name);
    std::string rendered;
    std::string time; // read once per phase, and only when a value names it
    auto value_of = [&](const Edit &edit) -> std::string_view {
        if (edit.value.is_literal()) return edit.value.literal();
        if (edit.value.uses_request_time() && time.empty()) time = request_time(request);
        rendered = edit.value.render(variables_of(request, time));
        return rendered;
    };
    for (const Edit &edit : edits.set)
        (void)target.set_header(edit.name, value_of(edit));
    for (const Edit &edit : edits.add)
        (void)target.add_header(edit.name, value_of(edit));
}

class HeadersFilter {
  public:
    static std::unique_ptr<HeadersFilter> create(Config &config) {
        config.check_keys({"request", "response"});
        auto self = std::make_unique<HeadersFilter>();
        self->request_ = parse_side(config.child("request"), Side::kRequest);
        self->response_ = parse_side(config.child("response"), Side::kResponse);
        if (!config.failed() && self->request_.empty() && self->response_.empty())
            config.error("nothing to do: give request or response edits (set, add, remove)");
        return self;
    }

    int request_head(void *, const sdk::FilterRequest &request) const {
        apply(request_, request, request);
        return PROXYD_FILTER_CONTINUE;
    }

    void response_head(void *, const sdk::Request &request, sdk::ResponseHead head) const {
        apply(response_, request, head);
    }

  private:
    Edits request_;
    Edits response_;
};

} // namespace
} // namespace proxyd::headers

PROXYD_FILTER_PLUGIN(proxyd::headers::HeadersFilter, "headers", "0.1.0")
