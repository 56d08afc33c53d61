#include "value_template.hpp"

#include <array>
#include <utility>

namespace proxyd::headers {
namespace {

struct Known {
    std::string_view name;
    int variable;
};

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9');
}

} // namespace

std::optional<ValueTemplate> ValueTemplate::parse(std::string_view text, std::string *error) {
    static constexpr std::array<Known, 6> kKnown{{{"client_address", kClientAddress},
                                                  {"request_id", kRequestId},
                                                  {"scheme", kScheme},
                                                  {"host", kHost},
                                                  {"protocol", kProtocol},
                                                  {"request_time", kRequestTime}}};
    ValueTemplate out;
    std::string literal;
    auto flush = [&] {
        if (!literal.empty()) out.parts_.push_back(Part{kNone, std::exchange(literal, {})});
    };
    for (size_t i = 0; i < text.size();) {
        if (text[i] != '$') {
            literal += text[i++];
            continue;
        }
        if (i + 1 < text.size() && text[i + 1] == '$') {
            literal += '$';
            i += 2;
            continue;
        }
        std::string_view name;
        size_t end = i + 1;
        if (end < text.size() && text[end] == '{') {
            size_t close = text.find('}', end);
            if (close == std::string_view::npos) {
                *error = "unclosed '${' in '" + std::string(text) + "'";
                return std::nullopt;
            }
            name = text.substr(end + 1, close - end - 1);
            end = close + 1;
        } else {
            while (end < text.size() && is_name_char(text[end]))
                ++end;
            name = text.substr(i + 1, end - i - 1);
        }
        if (name.empty()) {
            *error =
                "a '$' without a variable name in '" + std::string(text) + "' (write $$ for a dollar sign)";
            return std::nullopt;
        }
        int variable = kNone;
        for (const Known &known : kKnown)
            if (known.name == name) variable = known.variable;
        if (variable == kNone) {
            *error =
                "unknown variable '$" + std::string(name) +
                "' (known: $client_address, $request_id, $scheme, $host, $protocol, $request_time; $$ is a "
                "dollar sign)";
            return std::nullopt;
        }
        flush();
        out.parts_.push_back(Part{static_cast<Variable>(variable), {}});
        i = end;
    }
    flush();
    return out;
}

std::string ValueTemplate::render(const Variables &variables) const {
    std::string out;
    for (const Part &part : parts_) {
        switch (part.variable) {
        case kNone:
            out += part.text;
            break;
        case kClientAddress:
            out += variables.client_address;
            break;
        case kRequestId:
            out += variables.request_id;
            break;
        case kScheme:
            out += variables.scheme;
            break;
        case kHost:
            out += variables.host;
            break;
        case kProtocol:
            out += variables.protocol;
            break;
        case kRequestTime:
            out += variables.request_time;
            break;
        }
    }
    return out;
}

} // namespace proxyd::headers
