#include "tls/ticket_keys.hpp"

#include <algorithm>
#include <openssl/rand.h>

namespace proxyd {

namespace {

bool make_key(TicketKeyRing::Clock::time_point now, TicketKey &key) {
    key.created = now;
    return RAND_bytes(key.name.data(), static_cast<int>(key.name.size())) == 1 &&
           RAND_bytes(key.hmac_key.data(), static_cast<int>(key.hmac_key.size())) == 1 &&
           RAND_bytes(key.aes_key.data(), static_cast<int>(key.aes_key.size())) == 1;
}

} // namespace

void TicketKeyRing::set_rotation(Clock::duration rotation) {
    std::lock_guard lock(mutex_);
    rotation_ = rotation;
}

TicketKeyRing::Clock::duration TicketKeyRing::rotation() const {
    std::lock_guard lock(mutex_);
    return rotation_;
}

void TicketKeyRing::expire(Clock::time_point now) {
    auto dead = [&](const TicketKey &k) { return now - k.created >= kDecryptPeriods * rotation_; };
    keys_.erase(std::remove_if(keys_.begin(), keys_.end(), dead), keys_.end());
}

bool TicketKeyRing::encrypting_key(Clock::time_point now, TicketKey &out) {
    std::lock_guard lock(mutex_);
    if (keys_.empty() || now - keys_.back().created >= rotation_) {
        TicketKey next;
        if (!make_key(now, next)) return false;
        keys_.push_back(next);
        expire(now);
    }
    out = keys_.back();
    return true;
}

TicketKeyRing::Lookup TicketKeyRing::decrypting_key(const TicketKey::Name &name, Clock::time_point now,
                                                    TicketKey &out) {
    std::lock_guard lock(mutex_);
    expire(now);
    for (size_t i = keys_.size(); i-- > 0;) {
        if (keys_[i].name != name) continue;
        out = keys_[i];
        bool current = i + 1 == keys_.size() && now - keys_[i].created < rotation_;
        return current ? Lookup::kCurrent : Lookup::kOlder;
    }
    return Lookup::kUnknown;
}

size_t TicketKeyRing::key_count() const {
    std::lock_guard lock(mutex_);
    return keys_.size();
}

std::shared_ptr<TicketKeyRing> TicketKeyStore::ring(const std::string &listener,
                                                    TicketKeyRing::Clock::duration rotation) {
    auto &slot = rings_[listener];
    if (!slot)
        slot = std::make_shared<TicketKeyRing>(rotation);
    else
        slot->set_rotation(rotation);
    return slot;
}

} // namespace proxyd
