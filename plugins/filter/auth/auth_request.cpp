#include "auth_request.hpp"

namespace proxyd::auth {

bool same_field_name(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

AuthDecision decide_auth_request(bool answered, int status, std::span<const AnswerField> fields,
                                 std::span<const std::string> copy_headers) {
    AuthDecision out;
    if (!answered) return out;
    if (status >= 200 && status <= 299) {
        out.verdict = AuthDecision::kAllow;
        out.status = 0;
        for (const std::string &name : copy_headers)
            for (const AnswerField &field : fields)
                if (same_field_name(field.first, name)) {
                    out.copy.emplace_back(field.first, field.second);
                    break; // the first one, as a variable of nginx's would hold
                }
        return out;
    }
    if (status == 401 || status == 403) {
        out.verdict = AuthDecision::kDeny;
        out.status = status;
        if (status == 401)
            for (const AnswerField &field : fields)
                if (same_field_name(field.first, "WWW-Authenticate"))
                    out.challenges.emplace_back(field.second);
    }
    return out; // any other status: kError, 500
}

} // namespace proxyd::auth
