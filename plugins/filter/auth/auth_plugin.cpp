// filter/auth: HTTP authentication in front of a listener or a target. Basic credentials are
// checked against an htpasswd file, static Bearer tokens against a list; anything else gets 401
// with a WWW-Authenticate challenge per configured scheme.
//
//   filters = [{ plugin = "auth", realm = "staff", htpasswd = "users.htpasswd",
//                tokens_file = "api.tokens", strip_authorization = true }]
//
// tokens = ["..."] lists Bearer tokens in the config itself; tokens_file names a file with one a
// line ('#' comments), so they can be kept with tighter permissions than the config.
//
// Password hashes are slow on purpose (bcrypt costs tens of milliseconds), so each check runs on
// libuv's thread pool (queue_work) while the request waits (PENDING), never on the worker thread.
// A password once verified is remembered per worker as a salted SHA-256 of user and password
// (salt random per instance, so the cache holds no password and no digest usable elsewhere), so
// a client sending the same credentials again is let in without another bcrypt; `cache = false`
// turns that off. A user not in the file costs a check against another user's hash all the same,
// so timing does not tell which users exist. Tokens are compared in constant time.
//
// auth_request (ABI 1.4 subrequests) asks a service instead, as nginx's auth_request does:
//
//   filters = [{ plugin = "auth", auth_request = { upstream = "authsvc", path = "/auth",
//                forward_headers = ["Authorization", "Cookie"], copy_headers = ["X-User"] } }]
//
// Each request waits (PENDING) for a bodiless subrequest to the group, carrying the listed fields
// of the client's request and X-Original-URI/X-Original-Method; auth_request.hpp says what the
// answer leads to. The fields named in copy_headers are always removed from the client's
// request first, so a client cannot send its own X-User past the service. It replaces the local
// checks (htpasswd, tokens): one filter does one or the other.
// Written on plugin.hpp's C++ helper.
#include "auth_request.hpp"
#include "credentials.hpp"
#include "htpasswd.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <optional>
#include <proxyd/plugin.hpp>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace proxyd::auth {
namespace {

using sdk::Config;
using Digest = std::array<unsigned char, 32>;

struct FreeDigestContext {
    void operator()(EVP_MD_CTX *ctx) const { EVP_MD_CTX_free(ctx); }
};
using DigestContext = std::unique_ptr<EVP_MD_CTX, FreeDigestContext>;
struct FreeDigestAlgorithm {
    void operator()(EVP_MD *md) const { EVP_MD_free(md); }
};

class AuthFilter;

// One password check in flight. Shared by the thread-pool job and the request's state: the job
// may outlive the request (the client leaves while bcrypt runs), and then only marks itself done.
struct Check {
    sdk::FilterRequest request;
    std::string user;
    std::string password; // wiped once checked
    const std::string *hash;
    bool known_user;
    bool verified = false;
    std::optional<Digest> cache_digest{}; // of user and password, when verified (for the worker's cache)
    bool cancelled = false; // the request ended first (set on the worker thread)
};

struct PendingCheck {
    std::shared_ptr<Check> check;
};

// auth_request's settings (the auth_request table).
struct AuthRequestConfig {
    uint32_t upstream = 0; // a target id
    std::string method = "GET";
    std::string path;
    std::vector<std::string> forward_headers{"Authorization", "Cookie"};
    std::vector<std::string> copy_headers;
};

// A request's running subrequest, in its request state: freed with the request, which the core
// ends only after cancelling the subrequest (then its callback never runs).
struct PendingAsk {
    sdk::Subrequest subrequest;
};
// PendingAsk's request-state key: an address of its own, never the instance's (the key of
// PendingCheck) nor a member's (the first one shares the instance's address).
constexpr char kPendingAskKey = 0;

class AuthFilter {
  public:
    struct Worker {
        explicit Worker(const AuthFilter &) {}
        std::unordered_map<std::string, Digest> verified; // user -> digest of the password that passed
        // Reused for every cache look-up on this worker: a context made per digest cost an
        // allocation and OpenSSL's set-up each time.
        DigestContext hasher{EVP_MD_CTX_new()};
    };

    static std::unique_ptr<AuthFilter> create(Config &config) {
        config.check_keys(
            {"realm", "htpasswd", "tokens", "tokens_file", "strip_authorization", "cache", "auth_request"});
        auto self = std::make_unique<AuthFilter>();
        if (Config ask = config.child("auth_request"); ask.present()) {
            if (config.child("htpasswd").present() || config.child("tokens").present() ||
                config.child("tokens_file").present())
                ask.error("'auth_request' asks a service instead of checking 'htpasswd' or tokens: "
                          "give one or the other");
            self->ask_ = parse_auth_request(ask);
            self->strip_ = config.boolean("strip_authorization").value_or(false);
            return self;
        }
        self->realm_ = std::string(config.string("realm").value_or("proxyd"));
        if (self->realm_.find_first_of("\"\\\r\n") != std::string::npos)
            config.child("realm").error("'realm' cannot hold a quote, a backslash or a line break");
        if (auto path = config.string("htpasswd")) self->load_htpasswd(config.child("htpasswd"), *path);
        Config tokens = config.child("tokens");
        if (tokens.present() && tokens.type() != PROXYD_CONFIG_ARRAY)
            tokens.error("'tokens' must be an array of strings");
        for (const Config &token : tokens.elements()) {
            auto text = token.as_string("token");
            if (!text) continue;
            if (!acceptable_token(*text))
                token.error("a token must be at least 16 characters, without spaces");
            else
                self->tokens_.emplace_back(*text);
        }
        if (auto path = config.string("tokens_file")) self->load_tokens(config.child("tokens_file"), *path);
        if (!config.failed() && self->users_.empty() && self->tokens_.empty())
            config.error(
                "nothing to check against: give 'htpasswd' (a file with users), 'tokens' or 'tokens_file'");
        self->strip_ = config.boolean("strip_authorization").value_or(true);
        self->cache_ = config.boolean("cache").value_or(true);
        if (RAND_bytes(self->salt_.data(), static_cast<int>(self->salt_.size())) != 1)
            config.error("cannot draw a random salt for the credential cache (OpenSSL RAND_bytes)");
        // Fetched once: EVP_sha256() looks the algorithm up again (locks, name compares) on each use.
        self->sha256_.reset(EVP_MD_fetch(nullptr, "SHA256", nullptr));
        if (!self->sha256_)
            config.error("cannot load SHA-256 for the credential cache (OpenSSL EVP_MD_fetch)");
        self->challenges_ = self->make_challenges();
        return self;
    }

    int request_head(Worker *worker, const sdk::FilterRequest &request) const {
        if (!worker) return PROXYD_ESTATE; // a core that made no worker state: 500, not a crash
        if (ask_) return ask_service(request);
        Credentials credentials = parse_authorization(request.header("Authorization"));
        if (credentials.scheme == Credentials::kBearer && !tokens_.empty()) {
            bool match = false;
            for (const std::string &token : tokens_)
                match |= constant_time_equal(credentials.secret, token);
            return match ? pass(request) : refuse(request);
        }
        if (credentials.scheme != Credentials::kBasic || users_.empty()) return refuse(request);

        auto found = users_.find(credentials.user);
        bool known = found != users_.end();
        if (known && cache_) {
            auto cached = worker->verified.find(credentials.user);
            if (cached != worker->verified.end()) {
                auto given = digest(worker->hasher.get(), credentials.user, credentials.secret);
                if (given && constant_time_equal(as_view(*given), as_view(cached->second)))
                    return pass(request);
            }
        }
        // An unknown user is checked against some user's hash all the same (and refused), so that
        // the time taken does not tell whether the user exists.
        auto check = std::make_shared<Check>(Check{request, credentials.user, std::move(credentials.secret),
                                                   known ? &found->second : &users_.begin()->second, known});
        if (!request.emplace_state<PendingCheck>(this, PendingCheck{check})) return PROXYD_ENOMEM;
        int rc = sdk::queue_work(
            request.host_table(), request.worker(),
            [this, check] {
                // The thread pool: only the Check and the immutable instance are touched here.
                check->verified = verify_password(check->password, *check->hash) && check->known_user;
                if (check->verified && cache_) {
                    DigestContext hasher(EVP_MD_CTX_new());
                    check->cache_digest = digest(hasher.get(), check->user, check->password);
                }
                explicit_bzero(check->password.data(), check->password.size());
            },
            [this, worker, check] { finish(worker, *check); });
        if (rc != PROXYD_OK) return rc;
        return PROXYD_FILTER_PENDING;
    }

    void cancelled(Worker *, const sdk::Request &request) const {
        // auth_request: the core has cancelled the subrequest already; its state goes with the
        // request.
        if (ask_) return;
        if (auto *pending = request.state<PendingCheck>(this)) pending->check->cancelled = true;
    }

  private:
    static AuthRequestConfig parse_auth_request(const Config &ask) {
        AuthRequestConfig out;
        if (ask.type() != PROXYD_CONFIG_TABLE) {
            ask.error("'auth_request' must be a table: { upstream = \"...\", path = \"/...\" }");
            return out;
        }
        ask.check_keys({"upstream", "path", "method", "forward_headers", "copy_headers"});
        auto upstream = ask.string("upstream");
        if (!upstream)
            ask.error("'auth_request' needs 'upstream', the group of the auth service");
        else if (auto id = ask.child("upstream").resolve_target(PROXYD_TARGET_UPSTREAM, *upstream))
            out.upstream = *id;
        auto path = ask.string("path");
        if (!path || path->empty() || path->front() != '/' ||
            path->find_first_of(" \t\r\n") != std::string_view::npos)
            (path ? ask.child("path") : ask)
                .error("'auth_request' needs 'path', starting with '/', without spaces");
        else
            out.path = *path;
        if (auto method = ask.string("method")) {
            bool token = !method->empty() &&
                         method->find_first_of(" \t\r\n:()<>@,;\\\"/[]?={}") == std::string_view::npos;
            if (!token) ask.child("method").error("'method' must be a method token, such as \"GET\"");
            out.method = *method;
        }
        auto names = [](const Config &list, const char *key, std::vector<std::string> &into) {
            if (!list.present()) return;
            if (list.type() != PROXYD_CONFIG_ARRAY)
                return list.error(std::string("'") + key + "' must be an array of field names");
            into.clear();
            for (const Config &name : list.elements()) {
                auto text = name.as_string("field name");
                if (!text) continue;
                if (text->empty() || text->find_first_of(" \t\r\n:") != std::string_view::npos)
                    name.error("not a field name: '" + std::string(*text) + "'");
                else
                    into.emplace_back(*text);
            }
        };
        names(ask.child("forward_headers"), "forward_headers", out.forward_headers);
        names(ask.child("copy_headers"), "copy_headers", out.copy_headers);
        return out;
    }

    // auth_request: the request waits for the service's answer.
    int ask_service(const sdk::FilterRequest &request) const {
        std::vector<sdk::Header> fields;
        for (auto [name, value] : request.headers())
            for (const std::string &wanted : ask_->forward_headers)
                if (same_field_name(name, wanted)) fields.push_back({name, value});
        fields.push_back({"X-Original-URI", request.target()});
        fields.push_back({"X-Original-Method", request.method()});
        auto *pending = request.emplace_state<PendingAsk>(&kPendingAskKey);
        if (!pending) return PROXYD_ENOMEM;
        int rc = pending->subrequest.start(
            request, ask_->upstream, ask_->method, ask_->path, fields,
            [this, request](const sdk::SubrequestResponse &answer) { on_answer(request, answer); });
        // No peer to ask, or an older core: a failure (500), never a pass.
        if (rc != PROXYD_OK) return rc;
        return PROXYD_FILTER_PENDING;
    }

    void on_answer(const sdk::FilterRequest &request, const sdk::SubrequestResponse &answer) const {
        std::vector<AnswerField> fields;
        for (const proxyd_header &h : answer.headers())
            fields.emplace_back(sdk::view(h.name), sdk::view(h.value));
        AuthDecision decision =
            decide_auth_request(answer.answered(), answer.status(), fields, ask_->copy_headers);
        if (decision.verdict == AuthDecision::kAllow) {
            for (const std::string &name : ask_->copy_headers)
                (void)request.remove_header(name);
            for (const auto &[name, value] : decision.copy)
                (void)request.set_header(name, value);
            if (strip_) (void)request.remove_header("Authorization");
            (void)request.resume(PROXYD_FILTER_CONTINUE);
            return;
        }
        std::vector<sdk::Header> headers;
        for (const std::string &challenge : decision.challenges)
            headers.push_back({"WWW-Authenticate", challenge});
        headers.push_back({"Content-Type", "text/plain"});
        std::string_view body = decision.status == 401   ? "Unauthorized\n"
                                : decision.status == 403 ? "Forbidden\n"
                                                         : "Internal Server Error\n";
        // An answer that could not be set still never lets the request through: RESPONDED
        // without an answer ends it with the core's 500.
        (void)request.respond(decision.status, headers, body);
        (void)request.resume(PROXYD_FILTER_RESPONDED);
    }

    static std::string_view as_view(const Digest &d) {
        return std::string_view(reinterpret_cast<const char *>(d.data()), d.size());
    }

    // SHA-256 of salt, user, NUL, password: what the cache keeps for a verified password. The
    // parts are hashed in turn, so no joined copy of the password is made (nor has to be wiped).
    // nullopt when OpenSSL fails (no context): then nothing is cached or matched.
    std::optional<Digest> digest(EVP_MD_CTX *ctx, std::string_view user, std::string_view password) const {
        Digest out{};
        unsigned int length = 0;
        bool ok = ctx && EVP_DigestInit_ex2(ctx, sha256_.get(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, salt_.data(), salt_.size()) == 1 &&
                  EVP_DigestUpdate(ctx, user.data(), user.size()) == 1 && EVP_DigestUpdate(ctx, "", 1) == 1 &&
                  EVP_DigestUpdate(ctx, password.data(), password.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, out.data(), &length) == 1;
        if (!ok) return std::nullopt;
        return out;
    }

    // The thread-pool check is over; back on the worker thread.
    void finish(Worker *worker, Check &check) const {
        if (check.cancelled) return; // the request is gone: nothing to answer
        if (check.verified && check.cache_digest) worker->verified[check.user] = *check.cache_digest;
        int status = check.verified ? pass(check.request) : refuse(check.request);
        // A refusal that could not be sent still never lets the request through: RESPONDED
        // without an answer ends it with the core's error.
        (void)check.request.resume(status == PROXYD_FILTER_CONTINUE ? PROXYD_FILTER_CONTINUE
                                                                    : PROXYD_FILTER_RESPONDED);
    }

    int pass(const sdk::FilterRequest &request) const {
        if (strip_) (void)request.remove_header("Authorization");
        return PROXYD_FILTER_CONTINUE;
    }

    int refuse(const sdk::FilterRequest &request) const {
        std::vector<sdk::Header> headers;
        for (const std::string &challenge : challenges_)
            headers.push_back({"WWW-Authenticate", challenge});
        headers.push_back({"Content-Type", "text/plain"});
        if (request.respond(401, headers, "Unauthorized\n") != PROXYD_OK) return PROXYD_EPLUGIN;
        return PROXYD_FILTER_RESPONDED;
    }

    std::vector<std::string> make_challenges() const {
        std::vector<std::string> out;
        if (!users_.empty()) out.push_back("Basic realm=\"" + realm_ + "\", charset=\"UTF-8\"");
        if (!tokens_.empty()) out.push_back("Bearer realm=\"" + realm_ + "\"");
        return out;
    }

    static bool acceptable_token(std::string_view token) {
        return token.size() >= 16 && token.find_first_of(" \t\r\n") == std::string_view::npos;
    }

    // The whole file at path (resolved from the config's folder), or nullopt after an error.
    static std::optional<std::string> read_file(const Config &node, std::string_view path,
                                                std::string *resolved) {
        auto absolute = node.resolve_path(path);
        if (!absolute) return std::nullopt;
        *resolved = *absolute;
        std::ifstream in(*absolute, std::ios::binary);
        if (!in) {
            node.error("cannot read '" + *absolute + "'");
            return std::nullopt;
        }
        // A folder opens too (an empty path names the config's own) and reads as an empty file.
        std::error_code ec;
        if (std::filesystem::is_directory(*absolute, ec)) {
            node.error("'" + *absolute + "' is a folder, not a file");
            return std::nullopt;
        }
        std::ostringstream text;
        text << in.rdbuf();
        return text.str();
    }

    // One token a line; blank lines and '#' comments skipped. Keeps tokens out of the config file.
    void load_tokens(const Config &node, std::string_view path) {
        std::string resolved;
        auto text = read_file(node, path, &resolved);
        if (!text) return;
        std::istringstream lines(*text);
        std::string line;
        for (size_t number = 1; std::getline(lines, line); ++number) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty() || line.front() == '#') continue;
            if (!acceptable_token(line))
                node.error(resolved + ": line " + std::to_string(number) +
                           ": a token must be at least 16 characters, without spaces");
            else
                tokens_.push_back(line);
        }
        explicit_bzero(text->data(), text->size());
    }

    void load_htpasswd(const Config &node, std::string_view path) {
        std::string resolved;
        auto text = read_file(node, path, &resolved);
        if (!text) return;
        Htpasswd file = parse_htpasswd(*text);
        for (const std::string &error : file.errors)
            node.error(resolved + ": " + error);
        if (file.errors.empty() && file.users.empty()) node.error(resolved + ": no users");
        users_ = std::move(file.users);
    }

    std::optional<AuthRequestConfig> ask_; // auth_request mode
    std::string realm_;
    std::map<std::string, std::string, std::less<>> users_;
    std::vector<std::string> tokens_;
    std::vector<std::string> challenges_;
    bool strip_ = true;
    bool cache_ = true;
    std::array<unsigned char, 32> salt_{};
    std::unique_ptr<EVP_MD, FreeDigestAlgorithm> sha256_;
};

} // namespace
} // namespace proxyd::auth

PROXYD_FILTER_PLUGIN(proxyd::auth::AuthFilter, "auth", "0.1.0")
