// filter/access: allows or refuses a request by its client address, with ordered rules that
// take CIDRs (IPv4 and IPv6; an IPv4-mapped IPv6 client matches IPv4 rules). The first rule that
// matches decides; when none does, `default` does ("deny" unless said otherwise). A refused
// request is answered 403 before routing, its body unread.
//
//   filters = [{ plugin = "access", rules = ["allow 127.0.0.1", "allow 10.0.0.0/8",
//                                              "deny 2001:db8::/32", "allow ::1"], default = "deny" }]
//
// The address is the TCP peer's: behind another proxy it is that proxy (X-Forwarded-For is not
// trusted here). Written on plugin.hpp's C++ helper.
#include "address_rules.hpp"

#include <memory>
#include <proxyd/plugin.hpp>
#include <string>

namespace proxyd::access {
namespace {

using sdk::Config;

class AccessFilter {
  public:
    static std::unique_ptr<AccessFilter> create(Config &config) {
        config.check_keys({"rules", "default"});
        auto self = std::make_unique<AccessFilter>();
        Config rules = config.child("rules");
        if (!rules.present())
            config.error("'rules' is required: an array like [\"allow 10.0.0.0/8\", \"deny all\"]");
        else if (rules.type() != PROXYD_CONFIG_ARRAY)
            rules.error("'rules' must be an array of \"allow CIDR\" / \"deny CIDR\" strings");
        for (const Config &rule : rules.elements()) {
            auto text = rule.as_string("rule");
            std::string error;
            if (text && !self->rules_.add(*text, &error)) rule.error(error);
        }
        if (auto fallback = config.string("default")) {
            if (*fallback == "allow" || *fallback == "deny")
                self->rules_.set_default(*fallback == "allow");
            else
                config.child("default").error("'default' must be \"allow\" or \"deny\"");
        }
        return self;
    }

    int request_head(void *, const sdk::FilterRequest &request) const {
        if (rules_.allows(request.client_address())) return PROXYD_FILTER_CONTINUE;
        if (request.respond(403, {{"Content-Type", "text/plain"}}, "Forbidden\n") != PROXYD_OK)
            return PROXYD_EPLUGIN;
        return PROXYD_FILTER_RESPONDED;
    }

  private:
    AddressRules rules_;
};

} // namespace
} // namespace proxyd::access

PROXYD_FILTER_PLUGIN(proxyd::access::AccessFilter, "access", "0.1.0")
