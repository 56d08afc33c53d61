// Ordered allow/deny rules over client addresses: the first rule whose CIDR holds the address
// decides, else the default. IPv4 and IPv6 in one space: an IPv4 address is held as its
// IPv4-mapped IPv6 form (::ffff:a.b.c.d), so "10.0.0.0/8" also matches a client that a dual-stack
// socket reports as ::ffff:10.1.2.3, and a rule written "::ffff:10.0.0.0/104" matches 10.1.2.3.
#ifndef PROXYD_PLUGINS_FILTER_ACCESS_ADDRESS_RULES_HPP
#define PROXYD_PLUGINS_FILTER_ACCESS_ADDRESS_RULES_HPP

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd::access {

using Address = std::array<uint8_t, 16>;

// "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1" (a zone, "%eth0", is ignored); nullopt otherwise.
std::optional<Address> parse_address(std::string_view text);

struct Cidr {
    Address base{};
    unsigned prefix = 0; // bits of base that must match, 0..128 in the IPv6 space
    bool contains(const Address &address) const;
};

// "10.0.0.0/8", "2001:db8::/32", a single address (all its bits), or "all". Host bits set below
// the prefix ("10.0.0.1/8") are an error, as they usually mean a typo. nullopt with *error.
std::optional<Cidr> parse_cidr(std::string_view text, std::string *error);

class AddressRules {
  public:
    // "allow CIDR" or "deny CIDR"; false with *error when the rule does not parse.
    bool add(std::string_view rule, std::string *error);
    void set_default(bool allow) { default_allow_ = allow; }
    bool default_allows() const { return default_allow_; }
    size_t size() const { return rules_.size(); }
    // First match wins; an address that does not parse gets the default.
    bool allows(std::string_view client_address) const;
    bool allows(const Address &address) const;

  private:
    struct Rule {
        bool allow;
        Cidr cidr;
    };
    std::vector<Rule> rules_;
    bool default_allow_ = false;
};

} // namespace proxyd::access

#endif
