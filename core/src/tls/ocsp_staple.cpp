#include "tls/ocsp_staple.hpp"

#include "tls/openssl_errors.hpp"
#include "tls/openssl_ptr.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <vector>

namespace proxyd {

OcspFreshness ocsp_freshness(std::time_t this_update, std::optional<std::time_t> next_update, std::time_t now,
                             std::time_t clock_skew) {
    if (this_update > now + clock_skew) return OcspFreshness::kNotYetValid;
    if (next_update && *next_update <= now) return OcspFreshness::kExpired;
    return OcspFreshness::kFresh;
}

namespace {

std::string with_reason(const std::string &sentence) {
    std::string why = take_openssl_errors();
    return why.empty() ? sentence : sentence + " (" + why + ")";
}

std::string utc_date(std::time_t t) {
    char date[32];
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return date;
}

std::optional<std::time_t> to_time_t(const ASN1_GENERALIZEDTIME *time) {
    std::tm tm{};
    if (!time || ASN1_TIME_to_tm(time, &tm) != 1) return std::nullopt;
    return timegm(&tm);
}

// Every certificate of a PEM chain file, the certificate first.
std::vector<OpenSslPtr<X509>> read_chain(const std::string &chain_file) {
    std::vector<OpenSslPtr<X509>> chain;
    OpenSslPtr<FILE> f(std::fopen(chain_file.c_str(), "r"));
    if (!f) return chain;
    while (X509 *certificate = PEM_read_X509(f.get(), nullptr, nullptr, nullptr))
        chain.emplace_back(certificate);
    take_openssl_errors(); // the end of the file reads as "no start line"
    return chain;
}

// The single response about certificate, found by its CertID under SHA-1 (what responders and
// `openssl ocsp` use by default) or SHA-256; -1 when there is none.
int find_single_response(OCSP_BASICRESP *basic, X509 *certificate, X509 *issuer) {
    for (const EVP_MD *digest : {EVP_sha1(), EVP_sha256()}) {
        OpenSslPtr<OCSP_CERTID> id(OCSP_cert_to_id(digest, certificate, issuer));
        if (!id) continue;
        int index = OCSP_resp_find(basic, id.get(), -1);
        if (index >= 0) return index;
    }
    take_openssl_errors();
    return -1;
}

// The signature is the issuer's, or a responder's that the issuer certified for OCSP signing and
// the response carries. The issuer is the only trust anchor (partial chain): the response must
// vouch for this certificate, whatever root the clients trust. OCSP_TRUSTOTHER, as nginx: a
// response signed by the issuer itself needs no chain of its own. OCSP_NOEXPLICIT: the issuer is an
// anchor for this one check, not a certificate trusted for OCSP signing in its own right, so a
// signer it did not certify as a responder is refused without OpenSSL's fallback to such trust.
// The chain is checked as of `at`: now for a response to staple (clients check it so), its
// thisUpdate for one that is stale anyway: a delegated responder's certificate is often
// short-lived, and one that expired with the response must leave it the warning it is, not turn
// it into an error that stops a reload.
bool verify_signature(OCSP_BASICRESP *basic, X509 *issuer, std::time_t at) {
    OpenSslPtr<X509_STORE> store(X509_STORE_new());
    OpenSslPtr<STACK_OF(X509)> signers(sk_X509_new_null());
    if (!store || !signers || X509_STORE_add_cert(store.get(), issuer) != 1 ||
        X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN) != 1 ||
        !sk_X509_push(signers.get(), issuer))
        return false;
    X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store.get()), at);
    return OCSP_basic_verify(basic, signers.get(), store.get(), OCSP_TRUSTOTHER | OCSP_NOEXPLICIT) > 0;
}

} // namespace

OcspLoad load_ocsp_staple(const std::string &response_file, const std::string &chain_file, std::time_t now) {
    OcspLoad out;
    OpenSslPtr<FILE> in(std::fopen(response_file.c_str(), "rb"));
    if (!in) {
        out.error = response_file + ": cannot read it (" + std::strerror(errno) + ")";
        return out;
    }
    std::string der;
    char block[4096];
    while (size_t n = std::fread(block, 1, sizeof block, in.get()))
        der.append(block, n);
    if (std::ferror(in.get())) {
        out.error = response_file + ": cannot read it (" + std::strerror(errno) + ")";
        return out;
    }
    ERR_clear_error();
    const auto *p = reinterpret_cast<const unsigned char *>(der.data());
    OpenSslPtr<OCSP_RESPONSE> response(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
    if (!response || p != reinterpret_cast<const unsigned char *>(der.data() + der.size())) {
        out.error = with_reason(response_file + ": not a DER OCSP response");
        return out;
    }
    int status = OCSP_response_status(response.get());
    if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        out.error = response_file + ": the responder answered " + OCSP_response_status_str(status) +
                    ", not successful: there is nothing to staple";
        return out;
    }
    OpenSslPtr<OCSP_BASICRESP> basic(OCSP_response_get1_basic(response.get()));
    if (!basic) {
        out.error = with_reason(response_file + ": not a basic OCSP response");
        return out;
    }
    std::vector<OpenSslPtr<X509>> chain = read_chain(chain_file);
    if (chain.empty()) {
        out.error =
            chain_file + ": no PEM certificate in it to match the OCSP response " + response_file + " with";
        return out;
    }
    X509 *certificate = chain.front().get();
    X509 *issuer = nullptr;
    for (size_t i = 1; i < chain.size() && !issuer; ++i)
        if (X509_check_issued(chain[i].get(), certificate) == X509_V_OK) issuer = chain[i].get();
    if (!issuer) {
        out.error = response_file + ": the issuer of the certificate in " + chain_file +
                    " must follow it in that file: the OCSP response is checked against it";
        return out;
    }
    int index = find_single_response(basic.get(), certificate, issuer);
    if (index < 0) {
        out.error = response_file + ": not a response for the certificate in " + chain_file +
                    " (no single response with its issuer and serial number)";
        return out;
    }
    int reason = 0;
    ASN1_GENERALIZEDTIME *revoked_at = nullptr, *this_update = nullptr, *next_update = nullptr;
    int cert_status = OCSP_single_get0_status(OCSP_resp_get0(basic.get(), index), &reason, &revoked_at,
                                              &this_update, &next_update);
    auto this_time = to_time_t(this_update);
    auto next_time = to_time_t(next_update);
    if (!this_time || (next_update && !next_time)) {
        out.error = response_file + ": its thisUpdate or nextUpdate time cannot be read";
        return out;
    }
    OcspFreshness freshness = ocsp_freshness(*this_time, next_time, now);
    if (!verify_signature(basic.get(), issuer, freshness == OcspFreshness::kFresh ? now : *this_time)) {
        out.error = with_reason(response_file + ": its signature does not verify against the issuer of " +
                                chain_file + " or a responder it certified");
        return out;
    }
    if (cert_status == V_OCSP_CERTSTATUS_REVOKED) {
        auto when = to_time_t(revoked_at);
        out.warning = response_file + ": the responder says the certificate in " + chain_file +
                      " is REVOKED" + (when ? " since " + utc_date(*when) : std::string()) + ": not stapled";
        return out;
    }
    if (cert_status != V_OCSP_CERTSTATUS_GOOD) {
        out.warning = response_file + ": the responder does not know the certificate in " + chain_file +
                      " (status unknown): not stapled";
        return out;
    }
    switch (freshness) {
    case OcspFreshness::kNotYetValid:
        out.warning = response_file + ": the OCSP response is valid only from " + utc_date(*this_time) +
                      " (thisUpdate), ahead of this clock: not stapled";
        return out;
    case OcspFreshness::kExpired:
        out.warning = response_file + ": the OCSP response went stale on " + utc_date(*next_time) +
                      " (nextUpdate): not stapled; renew the file and reload (SIGHUP)";
        return out;
    case OcspFreshness::kFresh:
        break;
    }
    out.staple = std::make_shared<const OcspStaple>(response_file, std::move(der), next_time);
    return out;
}

} // namespace proxyd
