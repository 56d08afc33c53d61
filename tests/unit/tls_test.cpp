// The TLS layer without sockets: a real OpenSSL client, also over memory BIOs, talks to
// TlsSession, with certificates made for the test (ECDSA P-256 and RSA 2048, self-signed, with
// subjectAltName DNS names) written to a temporary folder.
#include "test_certificates.hpp"
#include "tls/tls_context.hpp"
#include "tls/tls_session.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string>
#include <unistd.h>
#include <vector>

using proxyd::TlsCertificateFiles;
using proxyd::TlsServerContext;
using proxyd::TlsSession;
using proxyd::TlsSettings;
using proxyd::test::KeyType;
using proxyd::test::make_certificate;
using proxyd::test::server_context;
using proxyd::test::TempDir;

namespace {

// An OpenSSL client over memory BIOs, and the byte pump between it and a TlsSession.
struct Client {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = nullptr;
    BIO *in = nullptr;  // what the server sent
    BIO *out = nullptr; // what the client sends

    Client() {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
        ssl = SSL_new(ctx);
        in = BIO_new(BIO_s_mem());
        out = BIO_new(BIO_s_mem());
        BIO_set_mem_eof_return(in, -1);
        SSL_set_bio(ssl, in, out);
        SSL_set_connect_state(ssl);
    }
    ~Client() {
        SSL_free(ssl);
        SSL_CTX_free(ctx);
    }
    void sni(const char *name) { SSL_set_tlsext_host_name(ssl, name); }
    void alpn(const std::string &wire) {
        SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char *>(wire.data()),
                            static_cast<unsigned>(wire.size()));
    }
    std::string take() {
        std::string bytes;
        char *data = nullptr;
        long len = BIO_get_mem_data(out, &data);
        if (len > 0) bytes.assign(data, static_cast<size_t>(len));
        (void)BIO_reset(out);
        return bytes;
    }
    // The peer certificate's first SAN (the site it belongs to) and key type.
    std::string peer_cn() const {
        X509 *cert = SSL_get1_peer_certificate(ssl);
        if (!cert) return "";
        char cn[256] = "";
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        X509_free(cert);
        return cn;
    }
    int peer_key_type() const {
        X509 *cert = SSL_get1_peer_certificate(ssl);
        int type = cert ? EVP_PKEY_get_base_id(X509_get0_pubkey(cert)) : 0;
        X509_free(cert);
        return type;
    }
};

struct Handshake {
    bool client_done = false;
    TlsSession::Status server_status = TlsSession::Status::kOk;
    std::string server_error;
};

// Runs the handshake, handing the client's bytes to the server in pieces of piece bytes.
Handshake run_handshake(Client &client, TlsSession &server, size_t piece = SIZE_MAX) {
    Handshake result;
    for (int round = 0; round < 20; ++round) {
        int rc = SSL_do_handshake(client.ssl);
        result.client_done = rc == 1;
        std::string to_server = client.take();
        std::string plaintext, to_client;
        for (size_t at = 0; at < to_server.size() && result.server_status == TlsSession::Status::kOk;) {
            size_t n = std::min(piece, to_server.size() - at);
            result.server_status = server.receive(to_server.data() + at, n, plaintext, to_client);
            at += n;
        }
        if (!to_client.empty()) BIO_write(client.in, to_client.data(), static_cast<int>(to_client.size()));
        if (result.server_status != TlsSession::Status::kOk) {
            result.server_error = server.error_text();
            SSL_do_handshake(client.ssl); // let the client read the alert
            break;
        }
        if (result.client_done && server.handshake_complete() && to_client.empty()) break;
    }
    ERR_clear_error();
    return result;
}

std::string alpn_wire(std::initializer_list<std::string> protocols) {
    std::string wire;
    for (const std::string &p : protocols)
        wire.append(1, static_cast<char>(p.size())).append(p);
    return wire;
}

} // namespace

TEST_CASE("a TLS 1.3 handshake, ALPN http/1.1, and data both ways", "[tls]") {
    TempDir dir;
    TlsSettings settings;
    settings.certificates = {make_certificate(dir, "site", KeyType::kEcdsa, {"example.test"})};
    auto ctx = server_context(settings);

    for (size_t piece : {SIZE_MAX, size_t{1}, size_t{7}}) {
        INFO("ciphertext handed over in pieces of " << piece);
        TlsSession server(ctx->initial());
        Client client;
        client.sni("example.test");
        client.alpn(alpn_wire({"h2", "http/1.1"}));
        Handshake hs = run_handshake(client, server, piece);
        INFO(hs.server_error);
        REQUIRE(hs.client_done);
        REQUIRE(server.handshake_complete());
        CHECK(server.version() == "TLSv1.3");
        CHECK(server.alpn() == "http/1.1");
        CHECK(server.server_name() == "example.test");

        // A request from the client, decrypted by the server however the records are split.
        std::string request = "GET / HTTP/1.1\r\nHost: example.test\r\n\r\n";
        REQUIRE(SSL_write(client.ssl, request.data(), static_cast<int>(request.size())) > 0);
        std::string records = client.take(), plaintext, to_client;
        for (size_t at = 0; at < records.size(); at += std::min(piece, records.size() - at))
            REQUIRE(server.receive(records.data() + at, std::min(piece, records.size() - at), plaintext,
                                   to_client) == TlsSession::Status::kOk);
        CHECK(plaintext == request);

        // A response from the server, read by the client.
        std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        REQUIRE(server.send(response, to_client) == TlsSession::Status::kOk);
        BIO_write(client.in, to_client.data(), static_cast<int>(to_client.size()));
        char buf[256];
        int n = SSL_read(client.ssl, buf, sizeof buf);
        REQUIRE(n > 0);
        CHECK(std::string(buf, static_cast<size_t>(n)) == response);

        // close_notify from the client ends the stream.
        SSL_shutdown(client.ssl);
        records = client.take();
        CHECK(server.receive(records.data(), records.size(), plaintext, to_client) ==
              TlsSession::Status::kClosed);
    }
}

TEST_CASE("SNI chooses the certificate: exact name, then wildcard, else the default", "[tls]") {
    TempDir dir;
    TlsSettings settings;
    settings.certificates = {make_certificate(dir, "default", KeyType::kEcdsa, {"default.test"}),
                             make_certificate(dir, "a", KeyType::kEcdsa, {"a.test", "www.a.test"}),
                             make_certificate(dir, "wild", KeyType::kEcdsa, {"*.b.test"})};
    auto ctx = server_context(settings);
    struct Case {
        const char *sni;
        const char *cn;
    } cases[] = {{"a.test", "a.test"},
                 {"WWW.A.test", "a.test"},
                 {"x.b.test", "*.b.test"},
                 {"a.b.test.", "*.b.test"},
                 {"y.x.b.test", "default.test"},
                 {"b.test", "default.test"},
                 {"unknown.test", "default.test"},
                 {nullptr, "default.test"}};
    for (const Case &c : cases) {
        INFO("SNI " << (c.sni ? c.sni : "(none)"));
        TlsSession server(ctx->initial());
        Client client;
        if (c.sni) client.sni(c.sni);
        Handshake hs = run_handshake(client, server);
        INFO(hs.server_error);
        REQUIRE(hs.client_done);
        CHECK(client.peer_cn() == c.cn);
    }
}

TEST_CASE("an unknown SNI name can be refused", "[tls]") {
    TempDir dir;
    TlsSettings settings;
    settings.certificates = {make_certificate(dir, "a", KeyType::kEcdsa, {"a.test"})};
    settings.refuse_unknown_name = true;
    auto ctx = server_context(settings);
    TlsSession server(ctx->initial());
    Client client;
    client.sni("other.test");
    Handshake hs = run_handshake(client, server);
    CHECK_FALSE(hs.client_done);
    CHECK(hs.server_status == TlsSession::Status::kError);

    TlsSession known(ctx->initial());
    Client good;
    good.sni("a.test");
    CHECK(run_handshake(good, known).client_done);
}

TEST_CASE("ECDSA and RSA certificates for the same names: the client's algorithms choose", "[tls]") {
    TempDir dir;
    TlsSettings settings;
    settings.certificates = {make_certificate(dir, "ec", KeyType::kEcdsa, {"site.test"}),
                             make_certificate(dir, "rsa", KeyType::kRsa, {"site.test"})};
    auto ctx = server_context(settings);
    {
        TlsSession server(ctx->initial());
        Client client;
        REQUIRE(run_handshake(client, server).client_done);
        CHECK(client.peer_key_type() == EVP_PKEY_EC);
    }
    {
        TlsSession server(ctx->initial());
        Client client;
        REQUIRE(SSL_set1_sigalgs_list(client.ssl, "rsa_pss_rsae_sha256:RSA+SHA256") == 1);
        REQUIRE(run_handshake(client, server).client_done);
        CHECK(client.peer_key_type() == EVP_PKEY_RSA);
    }
}

TEST_CASE("TLS 1.1 and an ALPN list without http/1.1 are refused", "[tls]") {
    TempDir dir;
    TlsSettings settings;
    settings.certificates = {make_certificate(dir, "site", KeyType::kEcdsa, {"site.test"})};
    auto ctx = server_context(settings);
    {
        TlsSession server(ctx->initial());
        Client client;
        // Security level 0 lets this client offer TLS 1.1 at all: the refusal must be the server's.
        SSL_set_security_level(client.ssl, 0);
        SSL_set_cipher_list(client.ssl, "DEFAULT:@SECLEVEL=0");
        SSL_set_max_proto_version(client.ssl, TLS1_1_VERSION);
        Handshake hs = run_handshake(client, server);
        CHECK_FALSE(hs.client_done);
        CHECK(hs.server_status == TlsSession::Status::kError);
        CHECK_THAT(hs.server_error, Catch::Contains("handshake"));
    }
    {
        TlsSession server(ctx->initial());
        Client client;
        client.alpn(alpn_wire({"h2"}));
        Handshake hs = run_handshake(client, server);
        CHECK_FALSE(hs.client_done);
        CHECK(hs.server_status == TlsSession::Status::kError);
    }
}

TEST_CASE("TLS settings that cannot load say which file and why", "[tls]") {
    TempDir dir;
    TlsCertificateFiles a = make_certificate(dir, "a", KeyType::kEcdsa, {"a.test"});
    TlsCertificateFiles b = make_certificate(dir, "b", KeyType::kEcdsa, {"b.test"});
    std::string error;
    TlsSettings missing;
    missing.certificates = {{(dir.path / "nope.crt").string(), a.key, nullptr}};
    CHECK_FALSE(TlsServerContext::create(missing, error));
    CHECK_THAT(error, Catch::Contains("nope.crt"));

    TlsSettings mismatch;
    mismatch.certificates = {{a.chain, b.key, nullptr}};
    CHECK_FALSE(TlsServerContext::create(mismatch, error));
    CHECK_THAT(error, Catch::Contains(b.key) && Catch::Contains("does not match"));

    TlsSettings bad_ciphers;
    bad_ciphers.certificates = {a};
    bad_ciphers.ciphers = "NO-SUCH-CIPHER";
    CHECK_FALSE(TlsServerContext::create(bad_ciphers, error));
    CHECK_THAT(error, Catch::Contains("NO-SUCH-CIPHER"));

    TlsSettings none;
    CHECK_FALSE(TlsServerContext::create(none, error));
    CHECK_THAT(error, Catch::Contains("at least one certificate"));
}

TEST_CASE("a TLS 1.2 ticket resumes on a context loaded later with the same key ring", "[tls]") {
    TempDir dir;
    TlsSettings settings;
    settings.certificates = {make_certificate(dir, "site", KeyType::kEcdsa, {"example.test"})};
    settings.max_version = TLS1_2_VERSION;
    settings.session_context = "127.0.0.1:8443";
    settings.session_cache_size = 0; // the ticket alone must do it
    proxyd::TicketKeyStore store;
    settings.ticket_keys = store.ring(settings.session_context, std::chrono::hours(12));
    auto before_reload = server_context(settings);

    SSL_SESSION *session = nullptr;
    {
        TlsSession server(before_reload->initial());
        Client client;
        REQUIRE(run_handshake(client, server).client_done);
        CHECK_FALSE(server.session_reused());
        session = SSL_get1_session(client.ssl);
        REQUIRE(session);
        CHECK(SSL_SESSION_has_ticket(session) == 1);
        SSL_shutdown(client.ssl); // freed without it, OpenSSL would mark the session unresumable
    }
    auto resumes_on = [&](const TlsServerContext &ctx) {
        TlsSession server(ctx.initial());
        Client client;
        SSL_set_session(client.ssl, session);
        REQUIRE(run_handshake(client, server).client_done);
        CHECK(SSL_session_reused(client.ssl) == server.session_reused());
        SSL_shutdown(client.ssl);
        return server.session_reused();
    };
    // A reload builds a new context; the ring (owned by the process) is the same.
    settings.ticket_keys = store.ring(settings.session_context, std::chrono::hours(12));
    auto after_reload = server_context(settings);
    CHECK(resumes_on(*after_reload));
    // Another listener (another ring, another session id context) does not resume it.
    TlsSettings other = settings;
    other.session_context = "127.0.0.1:9443";
    other.ticket_keys = store.ring(other.session_context, std::chrono::hours(12));
    CHECK_FALSE(resumes_on(*server_context(other)));
    // Nor does the same listener once it asks for client certificates it did not verify before.
    TlsSettings mtls = settings;
    mtls.verify_client = TlsSettings::VerifyClient::kOptional;
    mtls.client_ca = settings.certificates[0].chain;
    CHECK_FALSE(resumes_on(*server_context(mtls)));
    SSL_SESSION_free(session);
}
