#include "http/websocket_key.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

namespace proxyd {
namespace {

std::string base64(const unsigned char *data, size_t len) {
    std::string out(4 * ((len + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()), data, static_cast<int>(len));
    out.resize(static_cast<size_t>(n));
    return out;
}

} // namespace

std::optional<std::string> websocket_key() {
    unsigned char nonce[16];
    // RAND_bytes fails only when OpenSSL cannot seed at all; a fixed key instead would let a cache
    // replay an old handshake (RFC 6455 §10.3), so the caller refuses the upgrade.
    if (RAND_bytes(nonce, sizeof nonce) != 1) return std::nullopt;
    return base64(nonce, sizeof nonce);
}

std::string websocket_accept(std::string_view key) {
    static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::string text(key);
    text.append(kGuid);
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char *>(text.data()), text.size(), digest);
    return base64(digest, sizeof digest);
}

} // namespace proxyd
