// balancing/sticky: sticky sessions by a cookie proxyd inserts (HAProxy's `cookie SRV insert`,
// nginx's `sticky cookie`). A client without the cookie is placed by consistent hashing, as the
// hash balancer does (key, fallback and bounded_load mean the same here), and its response carries
// `Set-Cookie: SRV=<peer id>; Path=/; HttpOnly`; a client that sends a cookie naming a peer goes to
// that peer while it is up and untried. A peer marked down, gone from the group or tried already,
// and an id that names no peer, fall back to the hash, and the response re-issues the cookie.
//
//   balancer = { plugin = "sticky", cookie = "SRV", max_age = 3600, secure = true, samesite = "Lax" }
//
// The peer id is a keyed hash of the peer's address (sticky_cookie.hpp): it survives reloads and a
// reordering of the peers, and does not show the address. The cookie goes out through the
// balancer's response_head hook (ABI 1.4), which sees every final head a peer it picked sent.
#include "hash_balancer.hpp"
#include "sticky_cookie.hpp"

#include <memory>
#include <proxyd/plugin.hpp>
#include <string>
#include <vector>

namespace proxyd::hash {
namespace {

class StickyBalancer : public HashBalancer {
  public:
    static std::unique_ptr<StickyBalancer> create(sdk::Config &config) {
        config.check_keys({kKeys[0], kKeys[1], kKeys[2], "cookie", "path", "domain", "max_age", "secure",
                           "httponly", "samesite", "secret"});
        auto self = std::make_unique<StickyBalancer>();
        // A client without the cookie takes its turn unless a key is asked for.
        self->configure(config, std::nullopt);
        self->read_cookie_options(config);
        for (const sdk::Peer &p : config.peers())
            self->known_ids_.push_back(KnownId{std::string(p.address), peer_id(self->secret_, p.address)});
        return self;
    }

    int pick(Worker *worker, std::span<const proxyd_peer> peers, const bool *tried,
             const sdk::Request &request) const {
        if (auto id = cookie_id(request)) {
            for (size_t i = 0; i < peers.size(); ++i) {
                if (peers[i].down || (tried && tried[i])) continue;
                if (id_of(i, sdk::view(peers[i].address)) != *id) continue;
                worker->picker.count(i);
                return static_cast<int>(i);
            }
        }
        return HashBalancer::pick(worker, peers, tried, request);
    }

    void response_head(Worker *, const proxyd_peer &peer, size_t index, const sdk::Request &request,
                       sdk::ResponseHead head) const {
        std::string id = id_of(index, sdk::view(peer.address));
        if (cookie_id(request) == std::optional<std::string_view>(id)) return;
        (void)head.add_header("Set-Cookie", set_cookie_value(options_, id));
    }

  private:
    struct KnownId {
        std::string address;
        std::string id;
    };

    // The id of the peer at index, from the ids made at load while the group still has that peer
    // there (a discovered slot may hold another), else made now.
    std::string id_of(size_t index, std::string_view address) const {
        if (index < known_ids_.size() && known_ids_[index].address == address) return known_ids_[index].id;
        return peer_id(secret_, address);
    }

    // The id the request's cookie names, when it has the shape of one.
    std::optional<std::string_view> cookie_id(const sdk::Request &request) const {
        auto value = request_key(cookie_key_, request);
        return value && is_peer_id(*value) ? value : std::nullopt;
    }

    void read_cookie_options(sdk::Config &config) {
        if (auto name = config.string("cookie")) {
            std::string error;
            if (parse_key_spec("cookie:" + std::string(*name), error))
                options_.name = *name;
            else
                config.child("cookie").error("cookie '" + std::string(*name) +
                                             "' is not a valid cookie name");
        }
        cookie_key_ = KeySpec{KeySource::Cookie, options_.name};
        if (auto path = config.string("path")) {
            if (is_cookie_path(*path))
                options_.path = *path;
            else
                config.child("path").error("path must start with '/' and hold no ';' or control characters");
        }
        if (auto domain = config.string("domain")) {
            if (is_cookie_domain(*domain))
                options_.domain = *domain;
            else
                config.child("domain").error("domain must be a host name (letters, digits, '-' and '.')");
        }
        if (auto max_age = config.integer("max_age")) {
            if (*max_age >= 1 && *max_age <= 400LL * 24 * 3600)
                options_.max_age = *max_age;
            else
                config.child("max_age").error(
                    "max_age must be seconds from 1 to 34560000 (400 days, what browsers keep at most); "
                    "leave it out for a session cookie");
        }
        if (auto secure = config.boolean("secure")) options_.secure = *secure;
        if (auto http_only = config.boolean("httponly")) options_.http_only = *http_only;
        if (auto same_site = config.string("samesite")) {
            if (auto parsed = parse_same_site(*same_site))
                options_.same_site = *parsed;
            else
                config.child("samesite").error("samesite must be \"Strict\", \"Lax\" or \"None\"");
        }
        // Browsers drop a SameSite=None cookie that is not Secure.
        if (options_.same_site == SameSite::kNone && !options_.secure)
            config.child("samesite")
                .error("samesite = \"None\" needs secure = true (browsers refuse it otherwise)");
        if (auto secret = config.string("secret")) secret_ = *secret;
    }

    CookieOptions options_;
    KeySpec cookie_key_;
    std::string secret_;
    std::vector<KnownId> known_ids_; // the group's peers at load, in pick()'s order
};

} // namespace
} // namespace proxyd::hash

PROXYD_BALANCING_PLUGIN(proxyd::hash::StickyBalancer, "sticky", "0.1.0")
