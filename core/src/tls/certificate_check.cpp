#include "tls/certificate_check.hpp"

#include "tls/openssl_errors.hpp"
#include "tls/openssl_ptr.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

namespace proxyd {

namespace {

OpenSslPtr<X509> read_certificate(const std::string &file) {
    OpenSslPtr<FILE> f(std::fopen(file.c_str(), "r"));
    if (!f) return nullptr;
    return OpenSslPtr<X509>(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
}

} // namespace

std::string check_readable(const std::string &file) {
    OpenSslPtr<FILE> f(std::fopen(file.c_str(), "r"));
    if (!f) return file + ": cannot read it (" + std::strerror(errno) + ")";
    // A folder opens for reading too (an empty path names the config's own folder), and then
    // fails every read, or throws from a C++ stream.
    struct stat st {};
    if (::fstat(::fileno(f.get()), &st) == 0 && S_ISDIR(st.st_mode)) return file + ": a folder, not a file";
    return {};
}

std::string check_key_matches(const std::string &chain_file, const std::string &key_file) {
    auto certificate = read_certificate(chain_file);
    if (!certificate) {
        std::string why = take_openssl_errors();
        return chain_file + ": no PEM certificate in it" + (why.empty() ? "" : " (" + why + ")");
    }
    OpenSslPtr<FILE> f(std::fopen(key_file.c_str(), "r"));
    if (!f) return key_file + ": cannot read it (" + std::strerror(errno) + ")";
    OpenSslPtr<EVP_PKEY> key(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
    if (!key) {
        std::string why = take_openssl_errors();
        return key_file + ": no PEM private key in it" + (why.empty() ? "" : " (" + why + ")");
    }
    if (X509_check_private_key(certificate.get(), key.get()) != 1) {
        take_openssl_errors();
        return key_file + ": the private key does not match the certificate in " + chain_file;
    }
    return {};
}

std::optional<std::time_t> certificate_not_after(const std::string &chain_file) {
    auto certificate = read_certificate(chain_file);
    if (!certificate) {
        take_openssl_errors();
        return std::nullopt;
    }
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(certificate.get()), &tm) != 1) return std::nullopt;
    return timegm(&tm);
}

std::string expiry_warning(const std::string &chain_file, std::time_t not_after, std::time_t now,
                           int warn_days) {
    if (not_after - now > static_cast<std::time_t>(warn_days) * 86400) return {};
    char date[32];
    std::tm tm{};
    gmtime_r(&not_after, &tm);
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
    if (not_after <= now)
        return "certificate " + chain_file + " EXPIRED on " + date + " (notAfter); clients will refuse it";
    long days = static_cast<long>((not_after - now) / 86400);
    return "certificate " + chain_file + " expires on " + date + " (notAfter), in " +
           (days == 0 ? std::string("less than a day") : std::to_string(days) + " day(s)");
}

} // namespace proxyd
