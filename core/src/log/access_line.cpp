#include "log/access_line.hpp"

#include <cstdio>

namespace proxyd {
namespace {

// Length of the well-formed UTF-8 sequence at the start of s (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 when it is not one.
size_t utf8_sequence_length(std::string_view s) {
    auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
    unsigned char b0 = byte(0);
    size_t length = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2;
    if (b0 < 0xC2 || b0 > 0xF4 || s.size() < length) return 0;
    for (size_t i = 1; i < length; ++i)
        if ((byte(i) & 0xC0) != 0x80) return 0;
    unsigned char b1 = byte(1);
    if (b0 == 0xE0 && b1 < 0xA0) return 0; // overlong
    if (b0 == 0xED && b1 > 0x9F) return 0; // surrogates
    if (b0 == 0xF0 && b1 < 0x90) return 0; // overlong
    if (b0 == 0xF4 && b1 > 0x8F) return 0; // above U+10FFFF
    return length;
}

void append_escaped_byte(std::string &out, unsigned char c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\u%04x", c);
    out.append(buf);
}

std::string_view or_dash(std::string_view v) { return v.empty() ? std::string_view("-") : v; }

// A field the client wrote (target, Referer, User-Agent) in the combined line, as nginx escapes
// it: a '"' would end the quoted field early and let the client forge the ones after it, so it,
// a backslash and every byte outside printable ASCII (HTAB, obs-text) become \xHH. In an unquoted
// field (the user) a space would end it early, so escape_space makes it \x20 too.
void append_clf_escaped(std::string &out, std::string_view text, bool escape_space = false) {
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && !(escape_space && c == ' ')) {
            out.push_back(ch);
            continue;
        }
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02X", c);
        out.append(buf);
    }
}

std::string combined_line(const AccessEntry &e) {
    std::string line;
    line.reserve(256);
    line.append(e.client).append(" - ");
    append_clf_escaped(line, or_dash(e.user), true);
    line.append(" [").append(e.clf_time).append("] \"");
    line.append(e.method).append(" ");
    append_clf_escaped(line, e.target);
    line.append(" ").append(protocol_name(e.http_major, e.http_minor));
    line.append("\" ").append(std::to_string(e.status)).append(" ").append(std::to_string(e.body_bytes));
    line.append(" \"");
    append_clf_escaped(line, or_dash(e.referer));
    line.append("\" \"");
    append_clf_escaped(line, or_dash(e.user_agent));
    line.append("\" upstream=").append(e.upstream).append(" upstream_status=");
    line.append(e.earlier_upstream_statuses);
    line.append(e.upstream_status ? std::to_string(e.upstream_status) : "-");
    char rt[32];
    std::snprintf(rt, sizeof rt, "%.3f", e.request_time);
    line.append(" rt=").append(rt).append(" listener=").append(e.listener);
    line.append(" request_id=").append(or_dash(e.request_id)).append("\n");
    return line;
}

std::string json_line(const AccessEntry &e) {
    std::string line;
    line.reserve(320);
    auto field = [&](const char *name, std::string_view value) {
        line.append(line.empty() ? "{\"" : ",\"").append(name).append("\":");
        append_json_string(line, value);
    };
    auto number = [&](const char *name, const std::string &value) {
        line.append(",\"").append(name).append("\":").append(value);
    };
    std::tm tm{};
    gmtime_r(&e.time, &tm);
    char stamp[32];
    size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    field("time", std::string_view(stamp, n));
    // Absent headers and a missing user or upstream are null, not "-": JSON can say "none".
    auto optional = [&](const char *name, std::string_view value, bool present) {
        if (present) return field(name, value);
        line.append(",\"").append(name).append("\":null");
    };
    field("client", e.client);
    optional("user", e.user, !e.user.empty());
    field("method", e.method);
    field("target", e.target);
    field("protocol", protocol_name(e.http_major, e.http_minor));
    number("status", std::to_string(e.status));
    number("bytes", std::to_string(e.body_bytes));
    optional("referer", e.referer, !e.referer.empty());
    optional("user_agent", e.user_agent, !e.user_agent.empty());
    optional("upstream", e.upstream, e.upstream != "-");
    if (e.upstream_status)
        number("upstream_status", std::to_string(e.upstream_status));
    else
        line.append(",\"upstream_status\":null");
    char rt[32];
    std::snprintf(rt, sizeof rt, "%.3f", e.request_time);
    number("request_time", rt);
    field("listener", e.listener);
    optional("request_id", e.request_id, !e.request_id.empty());
    line.append("}\n");
    return line;
}

} // namespace

void append_json_string(std::string &out, std::string_view text) {
    out.push_back('"');
    while (!text.empty()) {
        auto c = static_cast<unsigned char>(text.front());
        if (c >= 0x80) {
            size_t length = utf8_sequence_length(text);
            if (length == 0) {
                append_escaped_byte(out, c);
                text.remove_prefix(1);
            } else {
                out.append(text.substr(0, length));
                text.remove_prefix(length);
            }
            continue;
        }
        if (c == '"' || c == '\\')
            out.push_back('\\'), out.push_back(static_cast<char>(c));
        else if (c < 0x20 || c == 0x7F)
            append_escaped_byte(out, c);
        else
            out.push_back(static_cast<char>(c));
        text.remove_prefix(1);
    }
    out.push_back('"');
}

std::string format_access_line(const AccessEntry &entry, AccessFormat format) {
    return format == AccessFormat::Json ? json_line(entry) : combined_line(entry);
}

} // namespace proxyd
