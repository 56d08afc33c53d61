// Owning pointers for what the TLS code reads and keeps of OpenSSL (and the C files it reads them
// from): OpenSslPtr<X509> frees with X509_free, and so on, one deleter for every type.
#pragma once

#include <cstdio>
#include <memory>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

namespace proxyd {

struct OpenSslFree {
    void operator()(FILE *f) const { std::fclose(f); }
    void operator()(X509 *x) const { X509_free(x); }
    void operator()(EVP_PKEY *k) const { EVP_PKEY_free(k); }
    void operator()(X509_STORE *s) const { X509_STORE_free(s); }
    // The stack only: its certificates stay owned where they were.
    void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
    // The names with their stack (a certificate's subjectAltName, decoded as a copy).
    void operator()(GENERAL_NAMES *n) const { GENERAL_NAMES_free(n); }
    void operator()(OCSP_RESPONSE *r) const { OCSP_RESPONSE_free(r); }
    void operator()(OCSP_BASICRESP *b) const { OCSP_BASICRESP_free(b); }
    void operator()(OCSP_CERTID *id) const { OCSP_CERTID_free(id); }
};

template <typename T> using OpenSslPtr = std::unique_ptr<T, OpenSslFree>;

} // namespace proxyd
