#include "server/client_request.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using proxyd::ClientRequest;
using proxyd::ClientRequestPool;
using proxyd::RequestLimits;
using proxyd::RequestParser;

namespace {

struct Events final : RequestParser::Events {
    int heads = 0;
    void on_request_begin() override {}
    void on_head_received() override {}
    void on_request_head() override { ++heads; }
    void on_request_body(std::string_view) override {}
    void on_request_complete() override {}
};

RequestParser::Result parse(ClientRequest &request, std::string_view bytes) {
    return request.parser.execute(bytes.data(), bytes.size());
}

} // namespace

TEST_CASE("a request given back is the next one taken, as new, for another connection's limits",
          "[server][client_request]") {
    ClientRequestPool pool;
    RequestLimits strict;
    RequestLimits lenient;
    lenient.allow_bare_lf = true;
    Events first_events, second_events, third_events;

    auto first = pool.take(strict, first_events);
    ClientRequest *first_address = first.get();
    REQUIRE(parse(*first, "GET /a HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(500, 'v') + "\r\n\r\n") ==
            RequestParser::Result::kMessageEnd);
    first->record.status = 200;
    first->record.upstream = "127.0.0.1:8080";
    first->view.path = {"/a", 2};
    first->path_rewritten = true;
    (void)first->arena.allocate(64);
    size_t grown = first->parser.head().capacity();
    first->parser.reset(); // as a connection that keeps alive leaves it
    pool.give_back(std::move(first));
    CHECK(pool.spare() == 1);

    auto second = pool.take(lenient, second_events);
    CHECK(second.get() == first_address); // no allocation for the next request
    CHECK(pool.spare() == 0);
    CHECK(second->record.status == 0);
    CHECK(second->record.upstream == "-");
    CHECK(second->view.path.ptr == nullptr);
    CHECK_FALSE(second->path_rewritten);
    CHECK(second->handle.head == &second->parser.head());
    CHECK(second->handle.arena == &second->arena);
    CHECK(second->handle.connection == nullptr);
    CHECK(second->parser.head().capacity() >= grown); // the head's storage is kept, not its bytes
    CHECK(second->parser.head().header_count() == 0);
    // The new taker's limits (bare LF allowed) and events are the ones in effect...
    REQUIRE(parse(*second, "GET /b HTTP/1.1\nHost: y\n\n") == RequestParser::Result::kMessageEnd);
    CHECK(second->parser.view().target == "/b");
    CHECK(first_events.heads == 1);
    CHECK(second_events.heads == 1);
    second->parser.reset();
    pool.give_back(std::move(second));

    // ... and the strict ones again for the next taker.
    auto third = pool.take(strict, third_events);
    CHECK(parse(*third, "GET /c HTTP/1.1\nHost: y\n\n") == RequestParser::Result::kError);
    CHECK(third_events.heads == 0);
}

TEST_CASE(
    "a parser restarted after an error, an upgrade or a closing message parses afresh for its next taker",
    "[server][client_request]") {
    ClientRequestPool pool;
    RequestLimits limits;
    Events events;
    const std::vector<std::string> last_seen = {
        "GET / HTTP/1.1\r\nHost : x\r\n",                                                   // refused
        "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", // upgrade
        "GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",                          // closing
        "GET /e HTTP/1.0\r\n\r\n",                                      // 1.0, no keep-alive
        "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", // cut short
    };
    for (const std::string &bytes : last_seen) {
        auto used = pool.take(limits, events);
        (void)parse(*used, bytes);
        used->parser.restart(); // as a connection's end leaves it, whatever it saw
        pool.give_back(std::move(used));
        auto next = pool.take(limits, events);
        CHECK(parse(*next, "GET /f HTTP/1.1\r\nHost: x\r\n\r\n") == RequestParser::Result::kMessageEnd);
        CHECK(next->parser.view().target == "/f");
        CHECK(next->parser.should_keep_alive());
        CHECK(next->parser.error_status() == 0);
        next->parser.reset();
        pool.give_back(std::move(next));
    }
}

TEST_CASE("the pool keeps a bounded number of requests, and none whose head grew large",
          "[server][client_request]") {
    ClientRequestPool pool;
    RequestLimits limits;
    Events events;
    std::vector<std::unique_ptr<ClientRequest>> taken;
    for (size_t i = 0; i < ClientRequestPool::kMaxSpare + 10; ++i)
        taken.push_back(pool.take(limits, events));
    for (auto &request : taken)
        pool.give_back(std::move(request));
    CHECK(pool.spare() == ClientRequestPool::kMaxSpare);

    ClientRequestPool small;
    auto big = small.take(limits, events);
    std::string head =
        "GET / HTTP/1.1\r\nHost: x\r\nCookie: " + std::string(ClientRequestPool::kMaxKeptBytes, 'c') +
        "\r\n\r\n";
    REQUIRE(parse(*big, head) == RequestParser::Result::kMessageEnd);
    big->parser.reset();
    small.give_back(std::move(big));
    CHECK(small.spare() == 0);
}
