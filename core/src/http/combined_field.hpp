// The field lines of one name in a head, combined as RFC 9110 §5.3 lets a recipient combine them:
// each value in order, comma-separated. A proxy that extends a list-valued field (Via,
// X-Forwarded-For, Forwarded) must keep every line the sender wrote, not only the last.
#pragma once

#include <string>
#include <string_view>

namespace proxyd {

class CombinedField {
  public:
    CombinedField() = default;
    // value() may view joined_: a copy would view the original's.
    CombinedField(const CombinedField &) = delete;
    CombinedField &operator=(const CombinedField &) = delete;

    // value: a view into the head, which outlives this object. Empty lines add nothing.
    void add(std::string_view value) {
        if (value.empty()) return;
        if (combined_.empty() && joined_.empty()) {
            combined_ = value; // the usual single line: no copy
            return;
        }
        if (joined_.empty()) joined_.assign(combined_);
        joined_.append(", ").append(value);
        combined_ = joined_;
    }
    // Every line added, in order ("" when none or all empty). Valid until the next add().
    std::string_view value() const { return combined_; }
    bool empty() const { return combined_.empty(); }

  private:
    std::string_view combined_;
    std::string joined_; // only once a second line came
};

} // namespace proxyd
