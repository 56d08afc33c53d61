// Content exchanges whose client left while an ABI 1.0 plugin (one without a cancelled hook)
// still holds the response. Each ends when its plugin calls response_finish; the worker frees
// those never finished when it ends, once its plugins' worker state is destroyed and no plugin
// code can finish them any more. An orphan holds no connection and no handle, so it never holds
// up a drain or a stop. Worker thread only.
#pragma once

#include <cstddef>
#include <unordered_set>

namespace proxyd {

class ContentExchange;

class ContentOrphans {
  public:
    ContentOrphans() = default;
    ~ContentOrphans() { free_all(); }
    ContentOrphans(const ContentOrphans &) = delete;
    ContentOrphans &operator=(const ContentOrphans &) = delete;

    void add(ContentExchange *exchange) { orphans_.insert(exchange); }
    void remove(ContentExchange *exchange) { orphans_.erase(exchange); }
    size_t size() const { return orphans_.size(); }
    // Deletes every orphan left (content_exchange.cpp) and returns how many there were.
    size_t free_all();

  private:
    std::unordered_set<ContentExchange *> orphans_;
};

} // namespace proxyd
