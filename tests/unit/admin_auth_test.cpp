#include "admin/bearer_auth.hpp"
#include "config/admin_token_file.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using proxyd::BearerCheck;
using proxyd::check_bearer;
using proxyd::read_admin_token_file;

namespace {

const std::string kToken = "0123456789abcdef0123456789abcdef";

struct TokenFile {
    std::filesystem::path path;
    explicit TokenFile(const std::string &bytes, mode_t mode = 0600) {
        char pattern[] = "/tmp/proxyd-admin-token-test-XXXXXX";
        int fd = ::mkstemp(pattern);
        REQUIRE(fd >= 0);
        ::close(fd);
        path = pattern;
        std::ofstream(path, std::ios::binary) << bytes;
        REQUIRE(::chmod(pattern, mode) == 0);
    }
    ~TokenFile() { std::filesystem::remove(path); }
};

// The refusal names the file and says what is wrong.
void check_refused(const TokenFile &file, const std::string &words) {
    auto read = read_admin_token_file(file.path.string());
    CHECK(read.token.empty());
    CHECK_THAT(read.error, Catch::Contains(file.path.string()) && Catch::Contains(words));
}

} // namespace

TEST_CASE("admin token file: one token, the whitespace around it trimmed", "[admin]") {
    CHECK(read_admin_token_file(TokenFile(kToken).path.string()).token == kToken);
    CHECK(read_admin_token_file(TokenFile(kToken + "\n").path.string()).token == kToken);
    CHECK(read_admin_token_file(TokenFile(" \t" + kToken + "\r\n\n").path.string()).token == kToken);
    // openssl rand -base64 24: a b64token with padding; 0640 for a root-owned file proxyd's group reads.
    auto read = read_admin_token_file(TokenFile("Q2hhbmdlLk1lLlBsZWFzZS4+/x==\n", 0640).path.string());
    CHECK(read.error.empty());
    CHECK(read.token == "Q2hhbmdlLk1lLlBsZWFzZS4+/x==");
}

TEST_CASE("admin token file: refused when empty, short, not one token, or too large", "[admin]") {
    check_refused(TokenFile(""), "empty");
    check_refused(TokenFile(" \n\n"), "empty");
    check_refused(TokenFile("0123456789abcde\n"), "15 bytes");
    CHECK(read_admin_token_file(TokenFile("0123456789abcdef").path.string()).error.empty()); // 16 is enough
    check_refused(TokenFile(kToken + "\n" + kToken + "\n"), "one token");
    check_refused(TokenFile("secret token with spaces"), "one token");
    check_refused(TokenFile(kToken + "=x"), "= at its end");
    check_refused(TokenFile(std::string(20, 'a') + '\0' + "b"), "one token");
    check_refused(TokenFile(std::string(proxyd::kMaxAdminTokenFileBytes + 1, 'a')), "larger than");
}

TEST_CASE("admin token file: refused when other users may read or change it, or it is no file", "[admin]") {
    check_refused(TokenFile(kToken, 0644), "0644");
    check_refused(TokenFile(kToken, 0602), "chmod o-rw");
    check_refused(TokenFile(kToken, 0660), "its group may change it"); // it could put its own token in
    auto missing = read_admin_token_file("/nonexistent/proxyd-token");
    CHECK_THAT(missing.error,
               Catch::Contains("/nonexistent/proxyd-token") && Catch::Contains("No such file"));
    CHECK_THAT(read_admin_token_file("/tmp").error, Catch::Contains("not a regular file"));
}

TEST_CASE("bearer check: the Authorization field carries the token after a case-insensitive scheme",
          "[admin]") {
    CHECK(check_bearer("Bearer " + kToken, kToken) == BearerCheck::kGranted);
    CHECK(check_bearer("bearer " + kToken, kToken) == BearerCheck::kGranted);
    CHECK(check_bearer("BEARER   " + kToken, kToken) == BearerCheck::kGranted);
    CHECK(check_bearer(std::nullopt, kToken) == BearerCheck::kMissing);
}

TEST_CASE("bearer check: another token, scheme or form is wrong", "[admin]") {
    std::string other = kToken;
    other.back() = 'e';
    CHECK(check_bearer("Bearer " + other, kToken) == BearerCheck::kWrong);
    CHECK(check_bearer("Bearer " + kToken + "0", kToken) == BearerCheck::kWrong);
    CHECK(check_bearer("Bearer " + kToken.substr(1), kToken) == BearerCheck::kWrong);
    CHECK(check_bearer("Bearer", kToken) == BearerCheck::kWrong);
    CHECK(check_bearer("", kToken) == BearerCheck::kWrong);
    CHECK(check_bearer(kToken, kToken) == BearerCheck::kWrong);
    CHECK(check_bearer("Basic " + kToken, kToken) == BearerCheck::kWrong);
    CHECK(check_bearer("Bearerx " + kToken, kToken) == BearerCheck::kWrong);
    CHECK(check_bearer("Bearer ", "") == BearerCheck::kWrong); // no token configured never matches
}
