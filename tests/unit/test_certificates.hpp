// Certificates made for a test (ECDSA P-256 or RSA 2048, self-signed, with subjectAltName DNS
// names), written to a temporary folder that is removed when the test ends, and the listener
// context made of them. A self-signed certificate is its own CA: a client that trusts its file
// accepts it.
#ifndef PROXYD_TESTS_UNIT_TEST_CERTIFICATES_HPP
#define PROXYD_TESTS_UNIT_TEST_CERTIFICATES_HPP

#include "tls/tls_context.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace proxyd::test {

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char pattern[] = "/tmp/proxyd-tls-test-XXXXXX";
        path = ::mkdtemp(pattern);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
};

enum class KeyType { kEcdsa, kRsa };

// A self-signed certificate for names (the first is also the CN); returns the files.
inline TlsCertificateFiles make_certificate(const TempDir &dir, const std::string &stem, KeyType type,
                                            const std::vector<std::string> &names) {
    EVP_PKEY *key = type == KeyType::kEcdsa ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
    REQUIRE(key);
    X509 *cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600 * 24);
    X509_set_pubkey(cert, key);
    X509_NAME *subject = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char *>(names[0].c_str()), -1, -1, 0);
    X509_set_issuer_name(cert, subject);
    std::string san;
    for (const std::string &name : names)
        san += (san.empty() ? "DNS:" : ",DNS:") + name;
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
    REQUIRE(ext);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);

    TlsCertificateFiles files{(dir.path / (stem + ".crt")).string(), (dir.path / (stem + ".key")).string(),
                              nullptr};
    FILE *f = std::fopen(files.chain.c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
    f = std::fopen(files.key.c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
    return files;
}

// A listener's TLS context for settings; the test fails with OpenSSL's reason when it cannot be made.
inline std::unique_ptr<TlsServerContext> server_context(const TlsSettings &settings) {
    std::string error;
    auto ctx = TlsServerContext::create(settings, error);
    INFO(error);
    REQUIRE(ctx);
    return ctx;
}

} // namespace proxyd::test

#endif
