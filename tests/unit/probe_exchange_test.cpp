// health/probe_exchange: an http health check's conversation without sockets. In cleartext the
// request goes out as it is and the answer is judged (status range, expect_body, a cut answer);
// to a TLS peer the check is a real handshake with a TlsSession server over the group's
// TlsClientContext (the CA, the name checked and sent as SNI), then the same request and
// judgement, and a refused certificate fails the check with the reason a proxied request's
// connect failure logs.
#include "config/health_check_config.hpp"
#include "health/probe_exchange.hpp"
#include "test_certificates.hpp"
#include "tls/tls_client_context.hpp"
#include "tls/tls_context.hpp"
#include "tls/tls_session.hpp"

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>

using namespace proxyd;
using proxyd::test::KeyType;
using proxyd::test::make_certificate;
using proxyd::test::TempDir;

namespace {

const std::string kRequest = "GET /health HTTP/1.1\r\nHost: backend.test\r\nConnection: close\r\n\r\n";

std::string response(int status, const std::string &body) {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
}

// A cleartext check answered by answer, handed in whole.
std::optional<ProbeVerdict> cleartext_check(const HealthCheckConfig &config, const std::string &answer) {
    ProbeExchange exchange(config, kRequest, nullptr, "", false);
    std::string output;
    REQUIRE_FALSE(exchange.start(output));
    CHECK(output == kRequest);
    CHECK_FALSE(exchange.in_tls_handshake());
    return exchange.receive(answer.data(), answer.size(), output);
}

// A backend's TLS side: a certificate for backend.test, self-signed (its file is the CA that
// trusts it).
struct TlsBackend {
    TempDir dir;
    TlsCertificateFiles certificate = make_certificate(dir, "backend", KeyType::kEcdsa, {"backend.test"});
    TlsCertificateFiles stranger = make_certificate(dir, "stranger", KeyType::kEcdsa, {"backend.test"});
    std::unique_ptr<TlsServerContext> context;

    TlsBackend() {
        TlsSettings settings;
        settings.certificates = {certificate};
        context = proxyd::test::server_context(settings);
    }
};

std::unique_ptr<TlsClientContext> client_context(const std::string &ca) {
    TlsClientSettings settings;
    settings.ca = ca;
    std::string error;
    auto context = TlsClientContext::create(settings, error);
    INFO(error);
    REQUIRE(context);
    return context;
}

struct Conversation {
    std::optional<ProbeVerdict> verdict;
    std::string request_seen; // the plaintext the backend decrypted
    std::string sni;          // the name the backend saw
    bool backend_failed = false;
};

// Runs the check against a TLS backend that answers with answer once the request's head is in.
Conversation tls_check(ProbeExchange &exchange, SSL_CTX *backend_ctx, const std::string &answer) {
    Conversation out;
    TlsSession backend(backend_ctx);
    std::string to_backend;
    out.verdict = exchange.start(to_backend);
    CHECK(exchange.in_tls_handshake());
    bool answered = false;
    for (int round = 0; round < 20; ++round) {
        std::string to_probe;
        // What the probe wrote reaches the backend also after its verdict: an alert, say.
        if (!to_backend.empty() && backend.receive(to_backend.data(), to_backend.size(), out.request_seen,
                                                   to_probe) == TlsSession::Status::kError)
            out.backend_failed = true;
        to_backend.clear();
        if (out.verdict) break;
        if (!answered && out.request_seen.find("\r\n\r\n") != std::string::npos) {
            out.sni = backend.server_name();
            REQUIRE(backend.send(answer, to_probe) == TlsSession::Status::kOk);
            answered = true;
        }
        if (to_probe.empty()) break;
        out.verdict = exchange.receive(to_probe.data(), to_probe.size(), to_backend);
    }
    return out;
}

} // namespace

TEST_CASE("a cleartext http check sends its request and judges the answer", "[health]") {
    HealthCheckConfig config;
    config.expect_body = "ok";
    auto verdict = cleartext_check(config, response(200, "status: ok\n"));
    REQUIRE(verdict);
    CHECK(verdict->pass);
    CHECK(verdict->reason.empty());

    verdict = cleartext_check(config, response(500, "status: ok\n"));
    REQUIRE(verdict);
    CHECK_FALSE(verdict->pass);
    CHECK(verdict->reason == "status 500");

    verdict = cleartext_check(config, response(200, "status: failing\n"));
    REQUIRE(verdict);
    CHECK_FALSE(verdict->pass);
    CHECK(verdict->reason == "status 200, body without \"ok\"");

    CHECK(cleartext_check(config, "HTTP/1.1 200 OK\r\nContent-Le") == std::nullopt);
}

TEST_CASE("an answer that ends early fails the check, one delimited by the close passes", "[health]") {
    HealthCheckConfig config;
    ProbeExchange cut(config, kRequest, nullptr, "", false);
    std::string output;
    REQUIRE_FALSE(cut.start(output));
    std::string head = "HTTP/1.1 200 OK\r\nContent-Le";
    REQUIRE_FALSE(cut.receive(head.data(), head.size(), output));
    ProbeVerdict verdict = cut.end_of_stream();
    CHECK_FALSE(verdict.pass);
    CHECK_THAT(verdict.reason, Catch::StartsWith("invalid response: "));

    ProbeExchange until_close(config, kRequest, nullptr, "", false);
    REQUIRE_FALSE(until_close.start(output));
    std::string answer = "HTTP/1.1 204 No Content\r\n\r\n";
    auto early = until_close.receive(answer.data(), answer.size(), output);
    REQUIRE(early); // a 204 has no body: judged at its head
    CHECK(early->pass);

    ProbeExchange closed(config, kRequest, nullptr, "", false);
    REQUIRE_FALSE(closed.start(output));
    std::string delimited = "HTTP/1.1 200 OK\r\n\r\nok";
    REQUIRE_FALSE(closed.receive(delimited.data(), delimited.size(), output)); // the body runs to the close
    verdict = closed.end_of_stream();
    CHECK(verdict.pass);
}

TEST_CASE("an http check to a TLS peer: the handshake, then the request, judged as in cleartext",
          "[health][tls]") {
    TlsBackend backend;
    auto trusting = client_context(backend.certificate.chain);
    HealthCheckConfig config;
    config.expect_body = "ok";

    ProbeExchange healthy(config, kRequest, trusting.get(), "backend.test", false);
    Conversation c = tls_check(healthy, backend.context->initial(), response(200, "status: ok\n"));
    REQUIRE(c.verdict);
    INFO(c.verdict->reason);
    CHECK(c.verdict->pass);
    CHECK(c.request_seen == kRequest);
    CHECK(c.sni == "backend.test");
    CHECK_FALSE(healthy.in_tls_handshake());

    ProbeExchange failing(config, kRequest, trusting.get(), "backend.test", false);
    c = tls_check(failing, backend.context->initial(), response(500, "status: failing\n"));
    REQUIRE(c.verdict);
    CHECK_FALSE(c.verdict->pass);
    CHECK(c.verdict->reason == "status 500");

    ProbeExchange no_marker(config, kRequest, trusting.get(), "backend.test", false);
    c = tls_check(no_marker, backend.context->initial(), response(200, "status: busy\n"));
    REQUIRE(c.verdict);
    CHECK(c.verdict->reason == "status 200, body without \"ok\"");
}

TEST_CASE("a TLS peer whose certificate the group does not trust fails the check, saying why",
          "[health][tls]") {
    TlsBackend backend;
    HealthCheckConfig config;

    auto other_ca = client_context(backend.stranger.chain);
    ProbeExchange untrusted(config, kRequest, other_ca.get(), "backend.test", false);
    Conversation c = tls_check(untrusted, backend.context->initial(), response(200, "ok"));
    REQUIRE(c.verdict);
    CHECK_FALSE(c.verdict->pass);
    CHECK(c.verdict->reason == "TLS handshake: certificate verify failed: self-signed certificate");
    CHECK(c.request_seen.empty());
    CHECK(c.backend_failed); // the probe's alert reached the backend

    auto trusting = client_context(backend.certificate.chain);
    ProbeExchange wrong_name(config, kRequest, trusting.get(), "other.test", false);
    c = tls_check(wrong_name, backend.context->initial(), response(200, "ok"));
    REQUIRE(c.verdict);
    CHECK_FALSE(c.verdict->pass);
    CHECK(c.verdict->reason == "TLS handshake: certificate verify failed: hostname mismatch");
    CHECK(c.request_seen.empty());
}

TEST_CASE("a TLS peer that hangs up in the handshake fails the check", "[health][tls]") {
    TlsBackend backend;
    auto trusting = client_context(backend.certificate.chain);
    HealthCheckConfig config;
    ProbeExchange exchange(config, kRequest, trusting.get(), "backend.test", false);
    std::string hello;
    REQUIRE_FALSE(exchange.start(hello));
    CHECK_FALSE(hello.empty());
    CHECK(exchange.in_tls_handshake());
    ProbeVerdict verdict = exchange.end_of_stream();
    CHECK_FALSE(verdict.pass);
    CHECK(verdict.reason == "TLS handshake: the peer closed the connection");
}
