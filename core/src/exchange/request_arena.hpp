// Request-lifetime memory for plugins (proxyd_host.request_alloc): each allocation is its own
// block, suitably aligned for any type, and all of them are freed at once when the request ends
// (clear()), as in nginx's request pool. One arena per client connection, on its worker thread.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace proxyd {

class RequestArena {
  public:
    // The memory stays valid until clear().
    void *allocate(size_t size);
    void clear() { blocks_.clear(); }

  private:
    std::vector<std::unique_ptr<std::max_align_t[]>> blocks_;
};

} // namespace proxyd
