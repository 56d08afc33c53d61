#include "address_rules.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>

namespace proxyd::access {
namespace {

constexpr unsigned kMappedPrefix = 96; // ::ffff:0:0/96 holds the IPv4 space

// Dotted-quad IPv4 as inet_pton reads it (four decimal parts up to 255, no leading zero), read
// here without the copy into a C string and glibc's general loop: every request's client
// address goes through it.
bool parse_ipv4(std::string_view text, uint8_t *out) {
    size_t i = 0;
    for (int part = 0; part < 4; ++part) {
        if (part > 0) {
            if (i >= text.size() || text[i] != '.') return false;
            ++i;
        }
        size_t start = i;
        unsigned value = 0;
        while (i < text.size() && i - start < 3 && text[i] >= '0' && text[i] <= '9')
            value = value * 10 + static_cast<unsigned>(text[i++] - '0');
        size_t digits = i - start;
        if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0')) return false;
        out[part] = static_cast<uint8_t>(value);
    }
    return i == text.size();
}

} // namespace

std::optional<Address> parse_address(std::string_view text) {
    if (size_t zone = text.find('%'); zone != std::string_view::npos) text = text.substr(0, zone);
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    Address out{};
    if (text.find(':') == std::string_view::npos) {
        if (!parse_ipv4(text, out.data() + 12)) return std::nullopt;
        out[10] = 0xff;
        out[11] = 0xff;
        return out;
    }
    char buf[INET6_ADDRSTRLEN];
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    in6_addr v6{};
    if (inet_pton(AF_INET6, buf, &v6) != 1) return std::nullopt;
    std::memcpy(out.data(), &v6, 16);
    return out;
}

bool Cidr::contains(const Address &address) const {
    unsigned whole = prefix / 8, rest = prefix % 8;
    if (std::memcmp(base.data(), address.data(), whole) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (base[whole] & mask) == (address[whole] & mask);
}

std::optional<Cidr> parse_cidr(std::string_view text, std::string *error) {
    if (text == "all") return Cidr{};
    std::string_view address_text = text, prefix_text;
    if (size_t slash = text.find('/'); slash != std::string_view::npos) {
        address_text = text.substr(0, slash);
        prefix_text = text.substr(slash + 1);
    }
    auto address = parse_address(address_text);
    if (!address || address_text.find('%') != std::string_view::npos) {
        *error = "'" + std::string(address_text) + "' is not an IPv4 or IPv6 address";
        return std::nullopt;
    }
    bool v4 = address_text.find(':') == std::string_view::npos;
    unsigned max = v4 ? 32 : 128;
    unsigned prefix = max;
    if (!prefix_text.empty() || text.find('/') != std::string_view::npos) {
        auto [end, ec] = std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), prefix);
        if (ec != std::errc() || end != prefix_text.data() + prefix_text.size() || prefix_text.empty() ||
            prefix > max) {
            *error = "'" + std::string(text) + "': the prefix length must be 0.." + std::to_string(max);
            return std::nullopt;
        }
    }
    Cidr cidr{*address, v4 ? prefix + kMappedPrefix : prefix};
    Cidr masked{};
    masked.prefix = cidr.prefix;
    for (unsigned bit = 0; bit < cidr.prefix; ++bit)
        masked.base[bit / 8] |= static_cast<uint8_t>(cidr.base[bit / 8] & (0x80 >> (bit % 8)));
    if (masked.base != cidr.base) {
        *error =
            "'" + std::string(text) + "' has bits set past its prefix length (a typo for another network?)";
        return std::nullopt;
    }
    return cidr;
}

bool AddressRules::add(std::string_view rule, std::string *error) {
    size_t space = rule.find(' ');
    std::string_view verb = rule.substr(0, space);
    std::string_view rest = space == std::string_view::npos ? std::string_view() : rule.substr(space + 1);
    while (!rest.empty() && rest.front() == ' ')
        rest.remove_prefix(1);
    while (!rest.empty() && rest.back() == ' ')
        rest.remove_suffix(1);
    if ((verb != "allow" && verb != "deny") || rest.empty()) {
        *error = "a rule is \"allow CIDR\" or \"deny CIDR\" (CIDR: 10.0.0.0/8, 2001:db8::/32, an address or "
                 "all), not '" +
                 std::string(rule) + "'";
        return false;
    }
    auto cidr = parse_cidr(rest, error);
    if (!cidr) return false;
    rules_.push_back(Rule{verb == "allow", *cidr});
    return true;
}

bool AddressRules::allows(const Address &address) const {
    for (const Rule &rule : rules_)
        if (rule.cidr.contains(address)) return rule.allow;
    return default_allow_;
}

bool AddressRules::allows(std::string_view client_address) const {
    auto address = parse_address(client_address);
    return address ? allows(*address) : default_allow_;
}

} // namespace proxyd::access
