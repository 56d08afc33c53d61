#include "exchange/request_filters.hpp"

#include <utility>

namespace proxyd {

void RequestFilters::set_state(const void *key, void *state, void (*free_state)(void *)) {
    for (State &s : states_) {
        if (s.key != key) continue;
        State old = std::exchange(s, State{key, state, free_state});
        if (old.free_state && old.state != state) old.free_state(old.state);
        return;
    }
    states_.push_back(State{key, state, free_state});
}

void *RequestFilters::state(const void *key) const {
    for (const State &s : states_)
        if (s.key == key) return s.state;
    return nullptr;
}

void RequestFilters::free_states() {
    // A free_state that sets state again (it should not) is taken by the next round.
    while (!states_.empty()) {
        std::vector<State> states = std::exchange(states_, {});
        for (const State &s : states)
            if (s.free_state) s.free_state(s.state);
    }
}

} // namespace proxyd
