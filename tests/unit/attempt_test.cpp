#include "upstream/attempt.hpp"

#include <catch2/catch.hpp>
#include <vector>

using proxyd::Attempt;
using proxyd::AttemptSink;

namespace {

struct Ended {
    size_t peer;
    proxyd_outcome outcome;
    int status;
};

struct RecordingSink final : AttemptSink {
    std::vector<Ended> ended;
    void attempt_done(size_t peer, uint32_t, const proxyd_attempt &a) override {
        CHECK(a.struct_size == sizeof(proxyd_attempt));
        ended.push_back({peer, a.outcome, a.status});
    }
};

} // namespace

TEST_CASE("an attempt reports its end once, however often it is ended", "[proxy]") {
    RecordingSink sink;
    {
        Attempt a(sink, 2);
        a.set_status(200);
        a.end(PROXYD_OUTCOME_SUCCESS);
        a.end(PROXYD_OUTCOME_BROKEN);
        a.drop();
        CHECK_FALSE(a.open());
    }
    REQUIRE(sink.ended.size() == 1);
    CHECK(sink.ended[0].peer == 2);
    CHECK(sink.ended[0].outcome == PROXYD_OUTCOME_SUCCESS);
    CHECK(sink.ended[0].status == 200);
}

TEST_CASE("an attempt dropped without an end is reported as aborted", "[proxy]") {
    RecordingSink sink;
    { Attempt a(sink, 1); }
    REQUIRE(sink.ended.size() == 1);
    CHECK(sink.ended[0].outcome == PROXYD_OUTCOME_ABORTED);
    CHECK(sink.ended[0].status == 0);
}

TEST_CASE("a tunnel's attempt ends as success when it is dropped", "[proxy]") {
    RecordingSink sink;
    {
        Attempt a(sink, 0);
        a.set_status(101);
        a.end_when_dropped(PROXYD_OUTCOME_SUCCESS);
    }
    REQUIRE(sink.ended.size() == 1);
    CHECK(sink.ended[0].outcome == PROXYD_OUTCOME_SUCCESS);
    CHECK(sink.ended[0].status == 101);
}

TEST_CASE("moving an attempt moves its report, replacing an open one ends it", "[proxy]") {
    RecordingSink sink;
    {
        Attempt held;
        Attempt first(sink, 0);
        held = std::move(first);
        CHECK_FALSE(first.open());
        CHECK(sink.ended.empty());
        held = Attempt(sink, 1); // the open one on peer 0 ends as it would if dropped
        REQUIRE(sink.ended.size() == 1);
        CHECK(sink.ended[0].peer == 0);
        CHECK(sink.ended[0].outcome == PROXYD_OUTCOME_ABORTED);
    }
    REQUIRE(sink.ended.size() == 2);
    CHECK(sink.ended[1].peer == 1);
}

TEST_CASE("an empty attempt reports nothing", "[proxy]") {
    RecordingSink sink;
    {
        Attempt none;
        none.end(PROXYD_OUTCOME_SUCCESS);
    }
    CHECK(sink.ended.empty());
}
