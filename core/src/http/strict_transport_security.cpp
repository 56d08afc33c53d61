#include "http/strict_transport_security.hpp"

#include "http/byte_classes.hpp"

#include <algorithm>
#include <set>

namespace proxyd {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char &c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return out;
}

} // namespace

std::string check_strict_transport_security(std::string_view value) {
    for (char c : value)
        if ((c < 32 && c != '\t') || c == 127)
            return "may hold only visible characters, spaces and tabs (no control characters)";
    std::set<std::string, std::less<>> seen;
    bool max_age = false;
    while (!value.empty()) {
        size_t semicolon = value.find(';');
        std::string_view directive = trim_ows(value.substr(0, semicolon));
        value = semicolon == std::string_view::npos ? std::string_view() : value.substr(semicolon + 1);
        if (directive.empty()) continue;
        size_t equals = directive.find('=');
        std::string name = lower(trim_ows(directive.substr(0, equals)));
        std::string_view argument =
            equals == std::string_view::npos ? std::string_view() : trim_ows(directive.substr(equals + 1));
        if (!is_token(name)) return "\"" + name + "\" is not a directive name";
        if (!seen.insert(name).second) return "directive " + name + " is given twice (RFC 6797 §6.1)";
        if (name == "max-age") {
            if (argument.size() >= 2 && argument.front() == '"' && argument.back() == '"')
                argument = argument.substr(1, argument.size() - 2);
            if (argument.empty() ||
                !std::all_of(argument.begin(), argument.end(), [](char c) { return c >= '0' && c <= '9'; }))
                return "max-age must be a number of seconds, e.g. max-age=31536000";
            max_age = true;
        } else if ((name == "includesubdomains" || name == "preload") && equals != std::string_view::npos) {
            return "directive " + name + " takes no value";
        }
    }
    if (!max_age)
        return "needs max-age=SECONDS (RFC 6797 §6.1.1), e.g. \"max-age=31536000; includeSubDomains\"";
    return {};
}

} // namespace proxyd
