#include "config/loader.hpp"
#include "http/byte_classes.hpp"
#include "http/strict_transport_security.hpp"
#include "log/logger.hpp"
#include "net/net_address.hpp"
#include "tls/certificate_check.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>

namespace proxyd {

// A listener's `tls` table: one certificate (certificate/key) or several (certificates =
// [{ certificate, key }, ...], the first the default), protocols, ciphers, ciphersuites,
// groups, unknown_name. The files are loaded here, so a bad one fails the config load.
std::shared_ptr<const TlsServerContext>
ConfigLoader::load_listener_tls(const toml::table &t, const std::string &where, ListenerConfig &l) {
    check_keys(t, where,
               {"certificate", "key", "ocsp_response", "certificates", "protocols", "ciphers", "ciphersuites",
                "groups", "unknown_name", "hsts", "session_tickets", "ticket_rotation", "session_timeout",
                "session_cache_size", "client_ca", "verify_client", "client_cert_headers"});
    if (auto hsts = get_string(t, "hsts", where)) {
        std::string why = check_strict_transport_security(*hsts);
        if (why.empty())
            l.strict_transport_security = *hsts;
        else
            error_at(t.get("hsts"), where + ".hsts", "\"" + *hsts + "\": " + why);
    }
    bool files_usable = true;
    TlsSettings settings;
    auto add_certificate = [&](const toml::table &c, const std::string &at) {
        auto certificate = get_string(c, "certificate", at);
        auto key = get_string(c, "key", at);
        if (!certificate || !key) {
            error_at(&c, at, "needs certificate = \"FILE\" (PEM chain) and key = \"FILE\" (PEM private key)");
            return;
        }
        TlsCertificateFiles files{resolve_path(*certificate), resolve_path(*key), nullptr};
        bool usable = check_certificate_files(c, at, files.chain, files.key);
        if (auto response = get_string(c, "ocsp_response", at); response && usable)
            files.ocsp = load_ocsp_response(c, at, resolve_path(*response), files.chain, usable);
        files_usable = usable && files_usable;
        settings.certificates.push_back(std::move(files));
    };
    if (const auto *list =
            typed<toml::array>(t, "certificates", where, "an array of { certificate, key } tables")) {
        if (t.get("certificate") || t.get("key") || t.get("ocsp_response"))
            error_at(&t, where,
                     "give either certificate, key (and ocsp_response), or certificates = [...], not both");
        // Without a certificate no TLS context is made, and the listener would serve cleartext.
        if (list->empty())
            error_at(list, where + ".certificates",
                     "needs at least one { certificate = \"...\", key = \"...\" } table");
        for (size_t i = 0; i < list->size(); ++i) {
            std::string at = where + ".certificates[" + std::to_string(i) + "]";
            if (const auto *c = list->get(i)->as_table()) {
                check_keys(*c, at, {"certificate", "key", "ocsp_response"});
                add_certificate(*c, at);
            } else {
                error_at(list->get(i), at, "must be a table: { certificate = \"...\", key = \"...\" }");
            }
        }
    } else {
        add_certificate(t, where);
    }
    load_tls_protocols(t, where, settings.min_version, settings.max_version);
    settings.ciphers = load_openssl_list(t, "ciphers", where, OpenSslList::Ciphers);
    settings.ciphersuites = load_openssl_list(t, "ciphersuites", where, OpenSslList::Ciphersuites);
    settings.groups = load_openssl_list(t, "groups", where, OpenSslList::Groups);
    if (auto unknown = get_string(t, "unknown_name", where)) {
        if (*unknown == "refuse")
            settings.refuse_unknown_name = true;
        else if (*unknown != "default")
            error_at(t.get("unknown_name"), where + ".unknown_name",
                     "must be \"default\" (serve the first certificate) or \"refuse\" (end the handshake)");
    }
    load_tls_resumption(t, where, l.listen_text, settings);
    files_usable = load_client_verification(t, where, settings, l.client_cert_headers) && files_usable;
    if (const Logger *logger = options_.logger)
        settings.warn = [logger](std::string_view message) { logger->warn(message); };
    if (l.http2) settings.alpn = {"h2", "http/1.1", "http/1.0"};        // h2 preferred (RFC 9113 §3.2)
    if (settings.certificates.empty() || !files_usable) return nullptr; // reported above
    std::string error;
    auto context = TlsServerContext::create(settings, error);
    if (!context) {
        // A list OpenSSL refused is reported at its key, as every other value is; the files were
        // checked above, so what is left is the table's.
        std::string key;
        for (std::string_view name : {"ciphersuites", "ciphers", "groups"})
            if (t.get(name) && error.starts_with(std::string(name) + " '")) key = name;
        error_at(key.empty() ? &t : t.get(key), key.empty() ? where : where + "." + key, error);
    }
    return context;
}

std::string ConfigLoader::load_openssl_list(const toml::table &t, std::string_view key,
                                            const std::string &where, OpenSslList kind) {
    std::string list = get_openssl_list(t, key, where);
    if (list.empty()) return list;
    auto [unusable, checked] = check_openssl_list(kind, list);
    // A list that selects nothing at all is refused when the TLS context is made, at this key.
    if (unusable.empty() || (kind != OpenSslList::Groups && unusable.size() == checked)) return list;
    std::string names;
    for (const std::string &entry : unusable)
        names += (names.empty() ? "'" : ", '") + entry + "'";
    std::string at = join_key(where, key);
    if (kind == OpenSslList::Groups) {
        error_at(t.get(key), at, "OpenSSL knows no group " + names + ", and refuses the whole list for it");
        return {}; // reported here: the context is not made to say it again
    }
    config_->warnings.push_back(position(t.get(key)) + ": " + at + ": " + names +
                                (unusable.size() == 1 ? " selects" : " select") +
                                " nothing this OpenSSL offers, and is skipped: a typo?");
    return list;
}

// One certificate entry's files: readable, the key the certificate's, and a warning when the
// certificate expires within 14 days, each at the key that names the file. True when usable.
bool ConfigLoader::check_certificate_files(const toml::table &c, const std::string &at,
                                           const std::string &chain, const std::string &key) {
    std::string problem = check_readable(chain);
    if (!problem.empty()) error_at(c.get("certificate"), at + ".certificate", problem);
    std::string key_problem = check_readable(key);
    if (!key_problem.empty()) error_at(c.get("key"), at + ".key", key_problem);
    if (!problem.empty() || !key_problem.empty()) return false;
    problem = check_key_matches(chain, key);
    if (!problem.empty()) {
        error_at(c.get("key"), at + ".key", problem);
        return false;
    }
    if (auto not_after = certificate_not_after(chain)) {
        std::string warning = expiry_warning(chain, *not_after, std::time(nullptr));
        if (!warning.empty())
            config_->warnings.push_back(position(c.get("certificate")) + ": " + at +
                                        ".certificate: " + warning);
    }
    return true;
}

// A certificate entry's ocsp_response: read and checked against the certificate now, so every
// reload picks up the file the operator's job renewed. A file that cannot serve the
// certificate is an error; a genuine response that must not be stapled now (revoked, stale,
// not yet valid) a warning, and the listener serves without a staple.
std::shared_ptr<const OcspStaple> ConfigLoader::load_ocsp_response(const toml::table &c,
                                                                   const std::string &at,
                                                                   const std::string &file,
                                                                   const std::string &chain, bool &usable) {
    OcspLoad loaded = load_ocsp_staple(file, chain, std::time(nullptr));
    if (!loaded.error.empty()) {
        error_at(c.get("ocsp_response"), at + ".ocsp_response", loaded.error);
        usable = false;
    } else if (!loaded.warning.empty()) {
        config_->warnings.push_back(position(c.get("ocsp_response")) + ": " + at +
                                    ".ocsp_response: " + loaded.warning);
    }
    return loaded.staple;
}

// session_tickets, ticket_rotation, session_timeout, session_cache_size: named as nginx's.
void ConfigLoader::load_tls_resumption(const toml::table &t, const std::string &where,
                                       const std::string &listen, TlsSettings &settings) {
    if (auto v = get_bool(t, "session_tickets", where)) settings.session_tickets = *v;
    Duration timeout = std::chrono::seconds(settings.session_timeout_seconds);
    if (get_duration(t, "session_timeout", where, timeout) && timeout < std::chrono::seconds(1))
        error_at(t.get("session_timeout"), where + ".session_timeout", "must be at least 1s");
    settings.session_timeout_seconds =
        static_cast<long>(std::chrono::ceil<std::chrono::seconds>(timeout).count());
    if (auto v = get_int(t, "session_cache_size", where, 0, 10'000'000)) settings.session_cache_size = *v;
    Duration rotation = std::chrono::hours(12);
    if (get_duration(t, "ticket_rotation", where, rotation) && rotation < std::chrono::seconds(1))
        error_at(t.get("ticket_rotation"), where + ".ticket_rotation", "must be at least 1s");
    settings.session_context = listen;
    if (options_.ticket_keys && settings.session_tickets)
        settings.ticket_keys = options_.ticket_keys->ring(listen, rotation);
}

// client_ca, verify_client and the client_cert_headers that forward the result upstream. False
// when client_ca cannot be read (reported at its key).
bool ConfigLoader::load_client_verification(const toml::table &t, const std::string &where,
                                            TlsSettings &settings, ClientCertHeaders &headers) {
    bool ca_usable = true;
    if (auto ca = get_string(t, "client_ca", where)) {
        settings.client_ca = resolve_path(*ca);
        // Checked here, at its key: the TLS context reads it only once the listener is built.
        if (std::string problem = check_readable(settings.client_ca); !problem.empty()) {
            error_at(t.get("client_ca"), where + ".client_ca", problem);
            ca_usable = false;
        }
    }
    if (auto mode = get_string(t, "verify_client", where)) {
        if (*mode == "required")
            settings.verify_client = TlsSettings::VerifyClient::kRequired;
        else if (*mode == "optional")
            settings.verify_client = TlsSettings::VerifyClient::kOptional;
        else if (*mode != "off")
            error_at(t.get("verify_client"), where + ".verify_client",
                     "must be \"required\" (no valid client certificate: the handshake fails), "
                     "\"optional\" (the request goes on, the result forwarded) or \"off\"");
    } else if (t.get("client_ca") && !t.get("verify_client")) {
        settings.verify_client = TlsSettings::VerifyClient::kRequired;
    }
    bool verifying = settings.verify_client != TlsSettings::VerifyClient::kOff;
    if (verifying && settings.client_ca.empty() && !t.get("client_ca")) {
        error_at(t.get("verify_client"), where + ".verify_client",
                 "needs client_ca = \"FILE\": the PEM bundle of the CAs client certificates chain to");
        ca_usable = false; // no context is made without one: it would only repeat this
    }
    const auto *names = typed<toml::table>(
        t, "client_cert_headers", where,
        "a table: { subject = \"X-Client-Subject\", fingerprint = \"X-Client-Cert-SHA256\", verify = "
        "\"X-Client-Verify\" }");
    if (names && !verifying)
        error_at(t.get("client_cert_headers"), where + ".client_cert_headers",
                 "needs verify_client = \"required\" or \"optional\" (and client_ca)");
    if (!verifying) return ca_usable;
    headers = {"X-Client-Subject", "X-Client-Cert-SHA256", "X-Client-Verify"};
    if (!names) return ca_usable;
    std::string at = where + ".client_cert_headers";
    check_keys(*names, at, {"subject", "fingerprint", "verify"});
    auto field = [&](std::string_view key, std::string &out) {
        auto name = get_string(*names, key, at);
        if (!name) return;
        if (!name->empty() && !is_token(*name))
            error_at(names->get(key), join_key(at, key),
                     "\"" + *name + "\" is not a field name (\"\" forwards no such field)");
        else
            out = *name;
    };
    field("subject", headers.subject);
    field("fingerprint", headers.fingerprint);
    field("verify", headers.verify);
    return ca_usable;
}

// The client side of TLS for a group whose peers speak it: the group's `tls` table (verify, ca,
// server_name, certificate and key for mTLS, protocols, ciphers), or its defaults for https://
// peers alone. The files are loaded here, so a bad one fails the config load (and proxyd -t).
void ConfigLoader::load_upstream_tls(const toml::node &group, const toml::table *t, const std::string &where,
                                     UpstreamConfig &u) {
    bool any_tls = std::any_of(u.peers.begin(), u.peers.end(), [](const PeerConfig &p) { return p.tls; });
    if (!t && !any_tls) return;
    TlsClientSettings settings;
    if (t) {
        check_keys(*t, where, {"verify", "ca", "server_name", "certificate", "key", "protocols", "ciphers"});
        if (auto v = get_bool(*t, "verify", where)) settings.verify = *v;
        if (auto ca = get_string(*t, "ca", where)) settings.ca = resolve_path(*ca);
        auto certificate = get_string(*t, "certificate", where);
        auto key = get_string(*t, "key", where);
        if (certificate.has_value() != key.has_value()) {
            error_at(t, where,
                     "a client certificate needs both certificate = \"FILE\" (PEM chain) and key = \"FILE\"");
            return;
        }
        if (certificate) {
            settings.certificate = resolve_path(*certificate);
            settings.key = resolve_path(*key);
        }
        if (auto name = get_string(*t, "server_name", where)) {
            if (name->empty()) {
                error_at(t->get("server_name"), where + ".server_name", "must not be empty");
            } else {
                for (PeerConfig &peer : u.peers) {
                    peer.tls_name = *name;
                    peer.tls_name_is_ip = is_ip_literal(*name);
                }
                u.discovery_tls_name = *name;
            }
        }
        load_tls_protocols(*t, where, settings.min_version, settings.max_version);
        settings.ciphers = load_openssl_list(*t, "ciphers", where, OpenSslList::Ciphers);
    }
    // A file that cannot be read is said plainly (OpenSSL would give its error stack), at its key.
    bool files_readable = true;
    for (auto [k, path] : {std::pair{"ca", &settings.ca}, std::pair{"certificate", &settings.certificate},
                           std::pair{"key", &settings.key}}) {
        if (std::string problem = path->empty() ? "" : check_readable(*path); !problem.empty()) {
            error_at(t->get(k), join_key(where, k), problem);
            files_readable = false;
        }
    }
    if (!files_readable) return;
    std::string error;
    u.tls = TlsClientContext::create(settings, error);
    if (u.tls) return;
    // At the key whose file failed, when one did.
    const toml::node *at = t;
    std::string key_name = where;
    for (auto [k, path] : {std::pair{"ca", &settings.ca}, std::pair{"certificate", &settings.certificate},
                           std::pair{"key", &settings.key}}) {
        if (!path->empty() && error.starts_with(*path + ":")) {
            at = t->get(k);
            key_name = where + "." + k;
            break;
        }
    }
    error_at(at ? at : &group, key_name, error); // https:// peers without a tls table: the group
}

// A `protocols` array such as ["TLSv1.2", "TLSv1.3"] as the lowest and highest version.
void ConfigLoader::load_tls_protocols(const toml::table &t, const std::string &where, int &min_version,
                                      int &max_version) {
    const auto *protocols =
        typed<toml::array>(t, "protocols", where, "an array such as [\"TLSv1.2\", \"TLSv1.3\"]");
    if (!protocols) return;
    if (protocols->empty())
        error_at(protocols, where + ".protocols",
                 "must name \"TLSv1.2\", \"TLSv1.3\" or both (leave it out for both)");
    int low = 0, high = 0;
    for (size_t i = 0; i < protocols->size(); ++i) {
        auto name = protocols->get(i)->value<std::string>();
        int version = !name                ? 0
                      : *name == "TLSv1.2" ? TLS1_2_VERSION
                      : *name == "TLSv1.3" ? TLS1_3_VERSION
                                           : 0;
        if (!version) {
            error_at(protocols->get(i), where + ".protocols",
                     "must be \"TLSv1.2\" or \"TLSv1.3\" (older versions are not offered)");
            continue;
        }
        low = low ? std::min(low, version) : version;
        high = std::max(high, version);
    }
    if (!low) return;
    min_version = low;
    max_version = high;
}

} // namespace proxyd
