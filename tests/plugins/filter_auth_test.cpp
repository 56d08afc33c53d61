// filter/auth: Authorization parsing, constant-time comparison, htpasswd files, crypt_r
// verification, and the plugin through its C ABI: the check on queue_work (PENDING, then resumed),
// the per-worker cache, bearer tokens, the 401 challenge, and a client leaving mid-check.
#include "auth_request.hpp"
#include "credentials.hpp"
#include "fake_host.hpp"
#include "htpasswd.hpp"
#include "temp_tree.hpp"

#include <catch2/catch.hpp>
#include <crypt.h>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

using namespace proxyd::testing;
using namespace proxyd::auth;

namespace {

// A bcrypt hash of password at the lowest cost, so the tests stay fast.
std::string bcrypt(const std::string &password) {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!crypt_gensalt_rn("$2b$", 4, nullptr, 0, salt, sizeof salt))
        throw std::runtime_error("crypt_gensalt_rn");
    auto data = std::make_unique<crypt_data>();
    const char *hash = crypt_r(password.c_str(), salt, data.get());
    if (!hash || hash[0] == '*') throw std::runtime_error("crypt_r");
    return hash;
}

std::string basic(const std::string &user_password) {
    static const char *kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (size_t i = 0; i < user_password.size(); i += 3) {
        uint32_t n = static_cast<unsigned char>(user_password[i]) << 16;
        if (i + 1 < user_password.size()) n |= static_cast<unsigned char>(user_password[i + 1]) << 8;
        if (i + 2 < user_password.size()) n |= static_cast<unsigned char>(user_password[i + 2]);
        out += kAlphabet[n >> 18 & 63];
        out += kAlphabet[n >> 12 & 63];
        out += i + 1 < user_password.size() ? kAlphabet[n >> 6 & 63] : '=';
        out += i + 2 < user_password.size() ? kAlphabet[n & 63] : '=';
    }
    return "Basic " + out;
}

const char *kToken = "s3cret-token-0123456789abcdef";

} // namespace

TEST_CASE("Authorization values parse into Basic and Bearer credentials", "[filter_auth]") {
    CHECK(parse_authorization(std::nullopt).scheme == Credentials::kNone);
    Credentials b = parse_authorization(basic("alice:pa:ss"));
    CHECK(b.scheme == Credentials::kBasic);
    CHECK(b.user == "alice");
    CHECK(b.secret == "pa:ss");
    CHECK(parse_authorization("basic YTpi").user == "a"); // the scheme is case-insensitive
    Credentials t = parse_authorization("Bearer  abc.def ");
    CHECK(t.scheme == Credentials::kBearer);
    CHECK(t.secret == "abc.def");
    CHECK(parse_authorization("Basic !!!!").scheme == Credentials::kMalformed);
    CHECK(parse_authorization("Basic YWJj").scheme == Credentials::kMalformed); // "abc": no colon
    CHECK(parse_authorization(basic(std::string("a:b\0c", 5))).scheme == Credentials::kMalformed);
    CHECK(parse_authorization("Digest x").scheme == Credentials::kMalformed);
    CHECK(parse_authorization("Bearer").scheme == Credentials::kMalformed);
    CHECK(decode_base64("YQ==") == "a");
    CHECK(decode_base64("YWI=") == "ab");
    CHECK(!decode_base64("YQ="));
    CHECK(!decode_base64("Y=Q="));
    CHECK(decode_base64("YWxpY2U6d29uZGVybGFuZA==") == "alice:wonderland");
    CHECK(decode_base64("YWxpY2U6d29uZGVybGFuZGE=") == "alice:wonderlanda");
    CHECK(decode_base64("YWxpY2U6") == "alice:");
    CHECK(decode_base64("") == "");
    CHECK(!decode_base64("YW=pY2U6")); // padding only at the end
    CHECK(!decode_base64("YWx!Y2U6"));
    CHECK(!decode_base64("YWxpY2U6d29uZGVybGFu-A=="));
}

TEST_CASE("constant-time comparison", "[filter_auth]") {
    CHECK(constant_time_equal("abc", "abc"));
    CHECK(!constant_time_equal("abd", "abc"));
    CHECK(!constant_time_equal("ab", "abc"));
    CHECK(!constant_time_equal("abcabc", "abc"));
    CHECK(!constant_time_equal("", "abc"));
    CHECK(!constant_time_equal("", ""));
    CHECK(!constant_time_equal("b", "bbb")); // given wraps, the lengths still differ
    CHECK(!constant_time_equal("abcab", "abc"));
    CHECK(constant_time_equal("bench-token-0123456789abcdef", "bench-token-0123456789abcdef"));
}

TEST_CASE("htpasswd files: users, comments, and refused hash methods", "[filter_auth]") {
    std::string alice = bcrypt("wonderland");
    Htpasswd file = parse_htpasswd("# staff\n\nalice:" + alice +
                                   "\r\nbob:$apr1$abc$def\nbroken\n"
                                   "carol:plain\nalice:" +
                                   alice + "\n");
    CHECK(file.users.size() == 1);
    CHECK(file.users.at("alice") == alice);
    REQUIRE(file.errors.size() == 4);
    CHECK_THAT(file.errors[0],
               Catch::StartsWith("line 4: user 'bob': Apache's $apr1$ hashes are not supported"));
    CHECK(file.errors[1] == "line 5: expected user:hash");
    CHECK_THAT(file.errors[2], Catch::StartsWith("line 6: user 'carol': not a hash"));
    CHECK(file.errors[3] == "line 7: user 'alice' appears twice");
    CHECK(verify_password("wonderland", alice));
    CHECK(!verify_password("Wonderland", alice));
    CHECK(!verify_password(std::string("wonderland\0x", 12), alice));
    // SHA-crypt works as well: whatever crypt_r knows.
    auto data = std::make_unique<crypt_data>();
    std::string sha512 = crypt_r("pw", "$6$saltsalt$", data.get());
    CHECK(verify_password("pw", sha512));
    CHECK(!verify_password("pw2", sha512));
}

namespace {

struct AuthFixture {
    AuthFixture() : module("filter_auth.so") {
        std::ofstream(tree.path() + "/users") << "alice:" << bcrypt("wonderland") << "\n";
        host.config_dir = tree.path();
        instance = host.create(module, "realm = \"staff\"\nhtpasswd = \"users\"\ntokens = [\"" +
                                           std::string(kToken) + "\"]");
        if (!instance) throw std::runtime_error(host.error_text());
        worker = std::make_unique<FakeWorker>(module.descriptor(), instance);
    }
    int send(FakeRequest &request) { return filter_request_head(module, instance, *worker, request); }

    proxyd::test::TempTree tree;
    PluginModule module;
    FakeHost host;
    void *instance = nullptr;
    std::unique_ptr<FakeWorker> worker;
};

} // namespace

TEST_CASE("auth checks a Basic password off the worker thread, then remembers it", "[filter_auth]") {
    AuthFixture f;
    FakeRequest first("GET", "/", {{"Authorization", basic("alice:wonderland")}});
    REQUIRE(f.send(first) == PROXYD_FILTER_PENDING);
    CHECK(f.worker->work_queued() == 1);
    CHECK(first.header("Authorization")); // not yet checked
    CHECK(f.worker->run_work() == 1);
    CHECK(first.resumed == PROXYD_FILTER_CONTINUE);
    CHECK(!first.header("Authorization")); // stripped before proxying
    CHECK(first.misuse.empty());

    FakeRequest again("GET", "/", {{"Authorization", basic("alice:wonderland")}});
    CHECK(f.send(again) == PROXYD_FILTER_CONTINUE); // from the worker's cache: no bcrypt
    CHECK(f.worker->work_queued() == 0);
    CHECK(!again.header("Authorization"));

    FakeRequest wrong("GET", "/", {{"Authorization", basic("alice:Wonderland")}});
    REQUIRE(f.send(wrong) == PROXYD_FILTER_PENDING); // a cached user with another password is checked
    f.worker->run_work();
    CHECK(wrong.resumed == PROXYD_FILTER_RESPONDED);
    REQUIRE(wrong.responded);
    CHECK(wrong.responded->status == 401);

    FakeRequest stranger("GET", "/", {{"Authorization", basic("mallory:wonderland")}});
    REQUIRE(f.send(stranger) == PROXYD_FILTER_PENDING); // an unknown user costs a check too
    f.worker->run_work();
    CHECK(stranger.resumed == PROXYD_FILTER_RESPONDED);
    CHECK(stranger.responded->status == 401);
}

TEST_CASE("auth answers 401 with a challenge per scheme", "[filter_auth]") {
    AuthFixture f;
    FakeRequest none("GET", "/");
    CHECK(f.send(none) == PROXYD_FILTER_RESPONDED);
    REQUIRE(none.responded);
    CHECK(none.responded->status == 401);
    std::vector<std::string> challenges;
    for (const auto &[name, value] : none.responded->headers)
        if (name == "WWW-Authenticate") challenges.push_back(value);
    CHECK(challenges ==
          std::vector<std::string>{"Basic realm=\"staff\", charset=\"UTF-8\"", "Bearer realm=\"staff\""});
    FakeRequest garbage("GET", "/", {{"Authorization", "Basic %%%"}});
    CHECK(f.send(garbage) == PROXYD_FILTER_RESPONDED);
    CHECK(f.worker->work_queued() == 0);
}

TEST_CASE("auth takes a configured bearer token and nothing like it", "[filter_auth]") {
    AuthFixture f;
    FakeRequest good("GET", "/", {{"Authorization", std::string("Bearer ") + kToken}});
    CHECK(f.send(good) == PROXYD_FILTER_CONTINUE);
    CHECK(!good.header("Authorization"));
    FakeRequest prefix("GET", "/",
                       {{"Authorization", std::string("Bearer ") + std::string(kToken).substr(0, 20)}});
    CHECK(f.send(prefix) == PROXYD_FILTER_RESPONDED);
    FakeRequest longer("GET", "/", {{"Authorization", std::string("Bearer ") + kToken + "x"}});
    CHECK(f.send(longer) == PROXYD_FILTER_RESPONDED);
}

TEST_CASE("a client leaving during the check is told once and never resumed", "[filter_auth]") {
    AuthFixture f;
    auto request = std::make_unique<FakeRequest>(
        "GET", "/",
        std::vector<std::pair<std::string, std::string>>{{"Authorization", basic("alice:wonderland")}});
    REQUIRE(f.send(*request) == PROXYD_FILTER_PENDING);
    CHECK(filter_cancel(f.module, f.instance, *f.worker, *request));
    request.reset();                  // the core frees the request (and its state) after cancelled
    CHECK(f.worker->run_work() == 1); // the job still completes, touching nothing of the request
    FakeRequest later("GET", "/", {{"Authorization", basic("alice:wonderland")}});
    CHECK(f.send(later) == PROXYD_FILTER_PENDING); // the cancelled check did not fill the cache
    f.worker->run_work();
    CHECK(later.resumed == PROXYD_FILTER_CONTINUE);
}

TEST_CASE("auth refuses a config it cannot check against", "[filter_auth]") {
    PluginModule module("filter_auth.so");
    proxyd::test::TempTree tree;
    std::ofstream(tree.path() + "/apache") << "bob:$apr1$abc$def\n";
    FakeHost host;
    host.config_dir = tree.path();
    CHECK(host.create(module, "htpasswd = \"apache\"") == nullptr);
    CHECK_THAT(host.error_text(), Catch::Contains("/apache: line 1: user 'bob': Apache's $apr1$ hashes"));
    FakeHost missing;
    missing.config_dir = tree.path();
    CHECK(missing.create(module, "htpasswd = \"nope\"") == nullptr);
    CHECK_THAT(missing.error_text(), Catch::Contains("cannot read '"));
    // An empty path names the config's folder, which opens but holds no file.
    FakeHost folder;
    folder.config_dir = tree.path();
    CHECK(folder.create(module, "tokens = [\"0123456789abcdef\"]\ntokens_file = \"\"") == nullptr);
    CHECK_THAT(folder.error_text(), Catch::Contains("is a folder, not a file"));
    FakeHost nothing;
    CHECK(nothing.create(module, "realm = \"x\"") == nullptr);
    CHECK_THAT(nothing.error_text(), Catch::Contains("nothing to check against"));
    FakeHost shorty;
    CHECK(shorty.create(module, "tokens = [\"short\"]\nrealm = \"a\\\"b\"") == nullptr);
    CHECK_THAT(shorty.error_text(), Catch::Contains("at least 16 characters"));
    CHECK_THAT(shorty.error_text(), Catch::Contains("'realm' cannot hold a quote"));
}

TEST_CASE("auth reads bearer tokens from a file of their own", "[filter_auth]") {
    PluginModule module("filter_auth.so");
    proxyd::test::TempTree tree;
    std::ofstream(tree.path() + "/api.tokens") << "# service tokens\n" << kToken << "\r\n\nshort\n";
    FakeHost bad;
    bad.config_dir = tree.path();
    CHECK(bad.create(module, "tokens_file = \"api.tokens\"") == nullptr);
    CHECK_THAT(bad.error_text(),
               Catch::EndsWith("/api.tokens: line 4: a token must be at least 16 characters, "
                               "without spaces\n"));
    std::ofstream(tree.path() + "/api.tokens") << kToken << "\n";
    FakeHost host;
    host.config_dir = tree.path();
    void *instance = host.create(module, "tokens_file = \"api.tokens\"");
    INFO(host.error_text());
    REQUIRE(instance);
    FakeWorker worker(module.descriptor(), instance);
    FakeRequest good("GET", "/", {{"Authorization", std::string("Bearer ") + kToken}});
    CHECK(filter_request_head(module, instance, worker, good) == PROXYD_FILTER_CONTINUE);
    FakeRequest basic_only("GET", "/", {{"Authorization", basic("alice:wonderland")}});
    CHECK(filter_request_head(module, instance, worker, basic_only) == PROXYD_FILTER_RESPONDED);
    REQUIRE(basic_only.responded);
    CHECK(basic_only.responded->header("WWW-Authenticate") == "Bearer realm=\"proxyd\"");
}

TEST_CASE("auth_request: 2xx passes with the listed fields, 401/403 deny, the rest is 500", "[filter_auth]") {
    std::vector<std::string> copy{"X-User", "X-Groups"};
    std::vector<AnswerField> fields{{"x-user", "alice"},
                                    {"X-Other", "o"},
                                    {"X-User", "second"},
                                    {"WWW-Authenticate", "Bearer realm=\"a\""},
                                    {"www-authenticate", "Basic realm=\"b\""}};
    AuthDecision ok = decide_auth_request(true, 204, fields, copy);
    CHECK(ok.verdict == AuthDecision::kAllow);
    REQUIRE(ok.copy.size() == 1); // the first X-User; no X-Groups in the answer
    CHECK(ok.copy[0] == std::pair<std::string, std::string>{"x-user", "alice"});
    CHECK(ok.challenges.empty());

    AuthDecision who = decide_auth_request(true, 401, fields, copy);
    CHECK(who.verdict == AuthDecision::kDeny);
    CHECK(who.status == 401);
    CHECK(who.challenges == std::vector<std::string>{"Bearer realm=\"a\"", "Basic realm=\"b\""});
    CHECK(who.copy.empty());
    AuthDecision no = decide_auth_request(true, 403, fields, copy);
    CHECK((no.verdict == AuthDecision::kDeny && no.status == 403 && no.challenges.empty()));

    for (int status : {100, 199, 300, 302, 404, 429, 500, 502, 503}) {
        AuthDecision odd = decide_auth_request(true, status, fields, copy);
        CHECK((odd.verdict == AuthDecision::kError && odd.status == 500));
    }
    AuthDecision failed = decide_auth_request(false, 0, {}, copy);
    CHECK((failed.verdict == AuthDecision::kError && failed.status == 500));
    CHECK(same_field_name("X-User", "x-uSER"));
    CHECK_FALSE(same_field_name("X-User", "X-Users"));
}

namespace {

struct AskFixture {
    PluginModule module{"filter_auth.so"};
    FakeHost host;
    void *instance = nullptr;
    std::unique_ptr<FakeWorker> worker;
    AskFixture() {
        host.upstreams["authsvc"] = 7;
        instance = host.create(module, "auth_request = { upstream = \"authsvc\", path = \"/check\", "
                                       "forward_headers = [\"Cookie\"], copy_headers = [\"X-User\"] }");
        if (!instance) throw std::runtime_error(host.error_text());
        worker = std::make_unique<FakeWorker>(module.descriptor(), instance);
    }
    int send(FakeRequest &request) { return filter_request_head(module, instance, *worker, request); }
};

} // namespace

TEST_CASE("auth_request asks the service through a subrequest and acts on its answer", "[filter_auth]") {
    AskFixture f;
    FakeRequest good("GET", "/app?x=1", {{"Cookie", "sid=1"}, {"X-User", "forged"}, {"X-Secret", "s"}});
    REQUIRE(f.send(good) == PROXYD_FILTER_PENDING);
    REQUIRE(good.subrequests.size() == 1);
    const auto &asked = *good.subrequests[0];
    CHECK(asked.upstream == 7);
    CHECK((asked.method == "GET" && asked.path == "/check"));
    using Fields = std::vector<std::pair<std::string, std::string>>;
    CHECK(asked.headers ==
          Fields{{"Cookie", "sid=1"}, {"X-Original-URI", "/app?x=1"}, {"X-Original-Method", "GET"}});
    REQUIRE(good.answer_subrequest(0, 200, {{"X-User", "alice"}}));
    CHECK(good.resumed == PROXYD_FILTER_CONTINUE);
    CHECK(good.header("X-User") == "alice");
    CHECK(good.header_count("X-User") == 1);

    FakeRequest denied("GET", "/app");
    REQUIRE(f.send(denied) == PROXYD_FILTER_PENDING);
    REQUIRE(denied.answer_subrequest(0, 401, {{"WWW-Authenticate", "Bearer"}}));
    CHECK(denied.resumed == PROXYD_FILTER_RESPONDED);
    REQUIRE(denied.responded);
    CHECK(denied.responded->status == 401);
    CHECK(denied.responded->header("WWW-Authenticate") == "Bearer");

    FakeRequest down("GET", "/app");
    REQUIRE(f.send(down) == PROXYD_FILTER_PENDING);
    REQUIRE(down.answer_subrequest(0, 0)); // no answer at all
    CHECK(down.resumed == PROXYD_FILTER_RESPONDED);
    REQUIRE(down.responded);
    CHECK(down.responded->status == 500);

    // The client leaves: the core cancels the subrequest and tells the filter; nothing resumes.
    auto leaving = std::make_unique<FakeRequest>("GET", "/app");
    REQUIRE(f.send(*leaving) == PROXYD_FILTER_PENDING);
    CHECK(filter_cancel(f.module, f.instance, *f.worker, *leaving));
    leaving->end();
    CHECK_FALSE(leaving->answer_subrequest(0, 200));
    CHECK(leaving->resumed == -1);
    CHECK(leaving->misuse.empty());
}

TEST_CASE("auth_request refuses a config it cannot ask with", "[filter_auth]") {
    PluginModule module("filter_auth.so");
    FakeHost both;
    both.upstreams["authsvc"] = 1;
    CHECK(both.create(module, "tokens = [\"0123456789abcdefgh\"]\n"
                              "auth_request = { upstream = \"authsvc\", path = \"/a\" }") == nullptr);
    CHECK_THAT(both.error_text(), Catch::Contains("give one or the other"));
    FakeHost bad;
    bad.upstreams["authsvc"] = 1;
    CHECK(bad.create(module, "auth_request = { upstream = \"nope\", path = \"auth\", copy = 1 }") == nullptr);
    CHECK_THAT(bad.error_text(), Catch::Contains("starting with '/'"));
    CHECK_THAT(bad.error_text(), Catch::Contains("unknown key 'copy'"));
}
