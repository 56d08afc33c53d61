// auth_request: the decision an auth service's answer leads to, as nginx's auth_request module
// takes it. 2xx lets the request through, with the listed fields of the answer copied onto it;
// 401 and 403 are the client's answer (401 with the service's WWW-Authenticate challenges); any
// other status, or no answer at all (refused, timed out, broken), is a 500: an auth service that
// cannot say yes is never taken as a yes.
#ifndef PROXYD_PLUGINS_FILTER_AUTH_AUTH_REQUEST_HPP
#define PROXYD_PLUGINS_FILTER_AUTH_AUTH_REQUEST_HPP

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace proxyd::auth {

// One field of the service's answer: name, value.
using AnswerField = std::pair<std::string_view, std::string_view>;

struct AuthDecision {
    enum Verdict { kAllow, kDeny, kError };
    Verdict verdict = kError;
    int status = 500; // the client's answer for kDeny (401, 403) and kError (500)
    // kAllow: the fields to set on the request, in copy_headers' order, as the service named them
    // (a field the answer lacks is not listed).
    std::vector<std::pair<std::string, std::string>> copy;
    // kDeny with 401: every WWW-Authenticate the service sent.
    std::vector<std::string> challenges;
};

// answered: the service sent a final response (status, fields); false for any failure.
AuthDecision decide_auth_request(bool answered, int status, std::span<const AnswerField> fields,
                                 std::span<const std::string> copy_headers);

// Field names compare case-insensitively (RFC 9110 §5.1).
bool same_field_name(std::string_view a, std::string_view b);

} // namespace proxyd::auth

#endif
