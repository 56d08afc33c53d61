// The TLS lists' entries that OpenSSL would not use, found before any certificate is read.
#include "tls/openssl_lists.hpp"

#include <catch2/catch.hpp>

using namespace proxyd;

using Names = std::vector<std::string>;

TEST_CASE("a cipher list's names and combinations are checked one by one, its operators not") {
    ListCheck known = check_openssl_list(OpenSslList::Ciphers, "ECDHE-RSA-AES128-GCM-SHA256:ECDHE+AESGCM:HIGH");
    CHECK(known.unusable.empty());
    CHECK(known.checked == 3);
    ListCheck typo = check_openssl_list(OpenSslList::Ciphers,
                                        "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA265:!aNULL:-MD5:+RSA:@SECLEVEL=1");
    CHECK(typo.unusable == Names{"ECDHE-RSA-AES128-GCM-SHA265"});
    CHECK(typo.checked == 2);
    // OpenSSL's other separators: spaces, commas and semicolons.
    ListCheck spaced = check_openssl_list(OpenSslList::Ciphers, "HIGH:!aNULL: !MD5,-RC4;+RSA ECDHE+AESGCM");
    CHECK(spaced.unusable.empty());
    CHECK(spaced.checked == 2);
}

TEST_CASE("a TLS 1.3 suite OpenSSL does not know is named, even beside known ones") {
    ListCheck check = check_openssl_list(OpenSslList::Ciphersuites, "TLS_AES_128_GCM_SHA256:TLS_AES_128_GCM_SHA384");
    CHECK(check.unusable == Names{"TLS_AES_128_GCM_SHA384"});
    CHECK(check.checked == 2);
    CHECK(check_openssl_list(OpenSslList::Ciphersuites, "TLS_CHACHA20_POLY1305_SHA256").unusable.empty());
}

TEST_CASE("an unknown group is named, and empty entries are skipped") {
    ListCheck check = check_openssl_list(OpenSslList::Groups, "X25519::nosuchcurve:prime256v1");
    CHECK(check.unusable == Names{"nosuchcurve"});
    CHECK(check.checked == 3);
    // A list OpenSSL takes whole is not taken apart.
    ListCheck fine = check_openssl_list(OpenSslList::Groups, "X25519:prime256v1");
    CHECK(fine.unusable.empty());
    // OpenSSL 3.3's "?name" (a group this build may lack) is left to OpenSSL.
    CHECK(check_openssl_list(OpenSslList::Groups, "?nosuchcurve:X25519:nosuchcurve").unusable ==
          Names{"nosuchcurve"});
}
