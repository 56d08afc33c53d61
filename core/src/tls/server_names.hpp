// Which of a listener's certificates answers an SNI name: each certificate's subjectAltName DNS
// names form a set, and a name is covered by the first set holding it exactly, else by the first
// holding the wildcard for its leftmost label ("*.example.com" covers "www.example.com", not
// "example.com" nor "a.www.example.com": RFC 6125 §6.4.3). Names compare ASCII case-insensitively,
// and a fully qualified name's trailing dot is ignored.
//
// Pure data, no OpenSSL: TlsServerContext keeps one SSL_CTX per set, in the same order, and the
// fuzzer drives this class directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd {

class ServerNameIndex {
  public:
    static constexpr size_t kNone = SIZE_MAX;

    // Adds a certificate's names as the next set; returns its number (0 for the first, the default).
    size_t add(const std::vector<std::string> &names);
    // The set holding exactly these names once normalised, or kNone: a second certificate (another
    // key type) for the same names joins that set's context.
    size_t find_same(const std::vector<std::string> &names) const;
    // The set that covers host, or kNone.
    size_t find(std::string_view host) const;

    size_t size() const { return sets_.size(); }
    // A set's names: normalised, sorted, without duplicates.
    const std::vector<std::string> &names(size_t set) const { return sets_[set]; }

    // host as names are compared: ASCII lower-case, without one trailing dot.
    static std::string normalise(std::string_view host);

  private:
    static std::vector<std::string> canonical(const std::vector<std::string> &names);
    size_t first_holding(const std::string &name) const;

    std::vector<std::vector<std::string>> sets_;
};

} // namespace proxyd
