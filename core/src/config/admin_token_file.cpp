#include "config/admin_token_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace proxyd {
namespace {

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
bool is_b64token(std::string_view token) {
    size_t end = token.find_last_not_of('=');
    if (end == std::string_view::npos) return false;
    for (size_t i = 0; i <= end; ++i) {
        unsigned char c = static_cast<unsigned char>(token[i]);
        bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       std::string_view("-._~+/").find(static_cast<char>(c)) != std::string_view::npos;
        if (!allowed) return false;
    }
    return true;
}

std::string octal_mode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

AdminTokenRead refused(std::string error) { return AdminTokenRead{{}, std::move(error)}; }

} // namespace

AdminTokenRead read_admin_token_file(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return refused(path + ": " + std::strerror(errno));
    struct stat st {};
    std::string content;
    std::string error;
    if (::fstat(fd, &st) != 0) {
        error = path + ": " + std::strerror(errno);
    } else if (!S_ISREG(st.st_mode)) {
        error = path + ": not a regular file";
    } else if ((st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) != 0) {
        // Group read is how a DynamicUser unit gets the file; group write would let that
        // group's members swap the token for one of their own.
        bool others = (st.st_mode & (S_IROTH | S_IWOTH)) != 0;
        error = path + (others ? ": other users may read or change it" : ": its group may change it") +
                " (mode " + octal_mode(st.st_mode) +
                "); chmod o-rw,g-w it, e.g. chmod 0600 (or 0640 with proxyd's group)";
    } else {
        char buffer[kMaxAdminTokenFileBytes + 1];
        ssize_t n = 0;
        while (content.size() <= kMaxAdminTokenFileBytes &&
               (n = ::read(fd, buffer, sizeof buffer - content.size())) > 0)
            content.append(buffer, static_cast<size_t>(n));
        if (n < 0)
            error = path + ": " + std::strerror(errno);
        else if (content.size() > kMaxAdminTokenFileBytes)
            error = path + ": larger than " + std::to_string(kMaxAdminTokenFileBytes) +
                    " bytes; the file holds one token";
    }
    ::close(fd);
    if (!error.empty()) return refused(error);

    constexpr std::string_view kWhitespace = " \t\r\n\v\f";
    size_t begin = content.find_first_not_of(kWhitespace);
    if (begin == std::string::npos) return refused(path + ": empty; the file holds the admin token");
    std::string token = content.substr(begin, content.find_last_not_of(kWhitespace) + 1 - begin);
    if (token.size() < kMinAdminTokenBytes)
        return refused(path + ": the token is " + std::to_string(token.size()) + " bytes; at least " +
                       std::to_string(kMinAdminTokenBytes) +
                       " are needed (e.g. openssl rand -hex 32 > FILE)");
    if (!is_b64token(token))
        return refused(path + ": the token may hold only letters, digits and - . _ ~ + /, with = at its end "
                              "(a Bearer credential, RFC 6750); one token, on one line");
    return AdminTokenRead{std::move(token), {}};
}

} // namespace proxyd
