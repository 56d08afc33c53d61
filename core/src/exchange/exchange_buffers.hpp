// The heap-backed scratch space of one proxied exchange: the response head as parsed, the bytes
// gathered for one client write, and the text of a head being built. A worker keeps the buffers
// of finished exchanges and hands them to the next ones, so a steady stream of requests reuses
// their capacity instead of allocating it anew (the profile counted 17 allocations per request
// in these). What is kept follows the number of exchanges in flight, not of connections: an
// idle keep-alive connection holds none of it.
#pragma once

#include "http/message_head.hpp"
#include "net/output_slices.hpp"

#include <memory>
#include <string>
#include <vector>

namespace proxyd {

struct ExchangeBuffers {
    MessageHead response;
    OutputSlices to_client;
    std::string head_text;

    void clear() {
        response.clear();
        to_client.clear();
        head_text.clear();
    }
    size_t capacity() const { return response.capacity() + to_client.capacity() + head_text.capacity(); }
};

class ExchangeBufferPool {
  public:
    std::unique_ptr<ExchangeBuffers> take() {
        if (spare_.empty()) return std::make_unique<ExchangeBuffers>();
        std::unique_ptr<ExchangeBuffers> buffers = std::move(spare_.back());
        spare_.pop_back();
        return buffers;
    }
    // Cleared and kept, unless the pool is full or they grew past what a usual exchange needs
    // (a huge head should not pin its memory for the worker's lifetime).
    void give_back(std::unique_ptr<ExchangeBuffers> buffers) {
        if (!buffers || spare_.size() >= kMaxSpare || buffers->capacity() > kMaxKeptBytes) return;
        buffers->clear();
        spare_.push_back(std::move(buffers));
    }

  private:
    static constexpr size_t kMaxSpare = 256;
    static constexpr size_t kMaxKeptBytes = 32 * 1024;
    std::vector<std::unique_ptr<ExchangeBuffers>> spare_;
};

} // namespace proxyd
