// The bytes of one write gathered from several places: text made here (heads, chunk framing) is
// copied into one owned string, body bytes are referenced where they lie (the read buffer), so
// a body is never copied on its way to the socket. Borrowed bytes must stay valid until
// bufs() has been written; owned text is kept by offset, so appending never invalidates it.
#pragma once

#include <string>
#include <string_view>
#include <uv.h>
#include <vector>

namespace proxyd {

class OutputSlices {
  public:
    void own(std::string_view text) {
        if (text.empty()) return;
        if (!slices_.empty() && !slices_.back().borrowed &&
            slices_.back().offset + slices_.back().len == owned_.size())
            slices_.back().len += text.size();
        else
            slices_.push_back({nullptr, owned_.size(), text.size()});
        owned_.append(text);
    }
    void borrow(const char *data, size_t len) {
        if (len) slices_.push_back({data, 0, len});
    }
    bool empty() const { return slices_.empty(); }
    // Slices so far: the index bufs() will give the next one borrowed.
    size_t count() const { return slices_.size(); }
    // Valid until the next own(), borrow() or clear().
    const std::vector<uv_buf_t> &bufs() {
        bufs_.clear();
        for (const Slice &s : slices_) {
            char *base = s.borrowed ? const_cast<char *>(s.borrowed) : owned_.data() + s.offset;
            bufs_.push_back(uv_buf_init(base, static_cast<unsigned>(s.len)));
        }
        return bufs_;
    }
    // Heap bytes held.
    size_t capacity() const {
        return owned_.capacity() + slices_.capacity() * sizeof(Slice) + bufs_.capacity() * sizeof(uv_buf_t);
    }
    // Keeps the capacity: the next response reuses it.
    void clear() {
        owned_.clear();
        slices_.clear();
    }

  private:
    struct Slice {
        const char *borrowed; // nullptr: owned_[offset, offset + len)
        size_t offset;
        size_t len;
    };
    std::string owned_;
    std::vector<Slice> slices_;
    std::vector<uv_buf_t> bufs_;
};

} // namespace proxyd
