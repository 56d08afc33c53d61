// The filter kind's data model: the editable header list filters change, the request id's rules,
// per-request states (freed once, replaced ones freed at once), and the host calls' refusals
// when no filter phase is running (no connection, no chain).
#include "exchange/request_filters.hpp"
#include "exchange/request_handle.hpp"
#include "head_of_fields.hpp"
#include "http/header_list.hpp"
#include "http/request_id.hpp"
#include "server/host_table.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace proxyd;

namespace {

proxyd_str s(const char *text) { return proxyd_str{text, std::char_traits<char>::length(text)}; }

} // namespace

TEST_CASE("a header list copies a head and edits it in place", "[filters]") {
    HeaderList list(head_of_fields({{"Host", "a"}, {"X-A", " 1 "}, {"x-a", "2"}, {"Accept", "*/*"}}));
    CHECK(list.header_count() == 4);
    CHECK(list.find("x-A") == "1"); // trimmed as the head hands it
    list.set("X-A", "3");
    REQUIRE(list.header_count() == 3);
    CHECK(list.header_name(1) == "X-A"); // where the first one was
    CHECK(list.header_value(1) == "3");
    CHECK(list.header_name(2) == "Accept");
    list.add("X-A", "4");
    CHECK(list.header_count() == 4);
    CHECK(list.remove("x-a") == 2);
    CHECK(list.remove("x-a") == 0);
    CHECK_FALSE(list.find("X-A"));
    list.set("New", "v");
    CHECK(list.header_name(list.header_count() - 1) == "New"); // appended when absent
}

TEST_CASE("what a header list handed out stays valid while it is edited, copied or moved", "[filters]") {
    HeaderList list(head_of_fields({{"Host", "a"}, {"X-Short", "v"}}));
    std::string_view host = *list.find("host");
    std::string_view name = list.header_name(1);
    // Many edits, long and short, grow the list well past its first block and field capacity.
    for (int i = 0; i < 200; ++i) {
        list.add("X-Added-" + std::to_string(i), std::string(static_cast<size_t>(i) * 7, 'x'));
        list.set("X-Short", std::to_string(i));
    }
    list.set("X-Copy", host); // a value the list itself holds
    CHECK(host == "a");
    CHECK(name == "X-Short");
    CHECK(list.find("x-short") == "199");
    CHECK(list.find("X-Copy") == "a");
    CHECK(list.find("x-added-199") == std::string(199 * 7, 'x'));
    list.add("X-Empty", "");
    CHECK(list.find("x-empty")->data() != nullptr);

    HeaderList copy(list);
    HeaderList moved(std::move(list));
    CHECK(host == "a"); // the moved list's text did not move
    CHECK(copy.header_count() == moved.header_count());
    for (size_t i = 0; i < copy.header_count(); ++i) {
        CHECK(copy.header_name(i) == moved.header_name(i));
        CHECK(copy.header_value(i) == moved.header_value(i));
        if (!copy.header_value(i).empty()) CHECK(copy.header_value(i).data() != moved.header_value(i).data());
    }

    // The list moved from is empty and writes into blocks of its own, not the new owner's.
    CHECK(list.header_count() == 0); // NOLINT(bugprone-use-after-move): reuse after a move is allowed
    std::string_view last = moved.header_value(moved.header_count() - 1);
    list.add("X-After", "reused");
    moved.add("X-Later", "owner");
    CHECK(list.find("x-after") == "reused");
    CHECK(moved.find("x-later") == "owner");
    CHECK(moved.header_value(moved.header_count() - 2) == last);
    HeaderList assigned;
    assigned = std::move(moved);
    moved.add("X-Again", "fresh");
    assigned.add("X-Kept", "yes");
    CHECK(moved.header_count() == 1);
    CHECK(assigned.find("x-later") == "owner");
    CHECK(assigned.find("x-kept") == "yes");
}

TEST_CASE("a header list viewing a head edits like a copy without copying its text", "[filters]") {
    MessageHead head =
        head_of_fields({{"Host", "a"}, {"Authorization", " Basic x "}, {"X-A", "1"}, {"x-a", "2"}});
    HeaderList copied(head);
    HeaderList viewing(head, HeaderList::ViewHead{});
    std::string_view auth = *viewing.find("authorization");
    CHECK(auth == "Basic x");                         // trimmed, as the head hands it
    CHECK(auth.data() >= head.header_name(0).data()); // the head's own bytes
    CHECK(auth.data() < head.header_name(0).data() + head.size());
    for (HeaderList *list : {&copied, &viewing}) {
        CHECK(list->remove("Authorization") == 1);
        list->set("x-a", "3");
        list->add("X-Client", "127.0.0.1");
    }
    REQUIRE(viewing.header_count() == copied.header_count());
    for (size_t i = 0; i < copied.header_count(); ++i) {
        CHECK(viewing.header_name(i) == copied.header_name(i));
        CHECK(viewing.header_value(i) == copied.header_value(i));
    }
    HeaderList own(viewing); // a copy owns its text
    CHECK(own.find("host")->data() != viewing.find("host")->data());
    CHECK(auth == "Basic x"); // what was handed out stays valid while the list is edited
}

TEST_CASE("field names must be tokens and values free of CR, LF and NUL", "[filters]") {
    CHECK(is_field_name("X-Good_1"));
    CHECK_FALSE(is_field_name(""));
    CHECK_FALSE(is_field_name("Bad Name"));
    CHECK_FALSE(is_field_name("Bad:Name"));
    CHECK(is_field_value("any value, with\ttabs"));
    CHECK_FALSE(is_field_value("a\r\nInjected: 1"));
    CHECK_FALSE(is_field_value(std::string_view("a\0b", 3)));
}

TEST_CASE("a client's request id is kept only when it is safe to pass on", "[filters]") {
    CHECK(is_valid_request_id("abc-123_X.y:z"));
    CHECK_FALSE(is_valid_request_id(""));
    CHECK_FALSE(is_valid_request_id("has space"));
    CHECK_FALSE(is_valid_request_id("quote\""));
    CHECK_FALSE(is_valid_request_id(std::string(201, 'a')));
    CHECK(is_valid_request_id(std::string(200, 'a')));
    char id[16];
    write_request_id(0x0123456789abcdefull, id);
    CHECK(std::string(id, 16) == "0123456789abcdef");
    write_request_id(0xfedcba9876543210ull, id);
    CHECK(std::string(id, 16) == "fedcba9876543210");
    write_request_id(0, id);
    CHECK(std::string(id, 16) == "0000000000000000");
    write_request_id(~0ull, id);
    CHECK(std::string(id, 16) == "ffffffffffffffff");
    write_request_id(0x9a0f00a90000000aull, id);
    CHECK(std::string(id, 16) == "9a0f00a90000000a");
}

TEST_CASE("per-request states are freed once, a replaced one at once, in the order they were set",
          "[filters]") {
    static std::vector<int> freed;
    freed.clear();
    auto free_int = [](void *p) { freed.push_back(*static_cast<int *>(p)); };
    int one = 1, two = 2, three = 3;
    int key_a = 0, key_b = 0;
    {
        RequestFilters f;
        f.set_state(&key_a, &one, free_int);
        f.set_state(&key_b, &two, free_int);
        CHECK(f.state(&key_a) == &one);
        f.set_state(&key_a, &three, free_int); // replaces: the old state goes now
        CHECK(freed == std::vector<int>{1});
        CHECK(f.state(&key_a) == &three);
        CHECK(f.state(&freed) == nullptr);
        f.free_states();
        CHECK(freed == std::vector<int>{1, 3, 2});
        CHECK(f.state(&key_b) == nullptr);
    } // the destructor finds nothing left to free
    CHECK(freed.size() == 3);
}

TEST_CASE("filter host calls refuse a request with no filter phase running", "[filters]") {
    proxyd_host host{};
    fill_request_host_calls(host);
    fill_filter_host_calls(host);
    MessageHead head = head_of_fields({{"Host", "a"}});
    RequestArena arena;
    // A request without a connection (as content plugins' tests build them): nothing to edit.
    proxyd_request_handle handle{&head, &arena, nullptr, nullptr, nullptr};
    CHECK(host.request_set_header(&handle, s("X-A"), s("1")) == PROXYD_ESTATE);
    CHECK(host.request_remove_header(&handle, s("X-A")) == PROXYD_ESTATE);
    CHECK(host.request_set_path(&handle, s("/x")) == PROXYD_ESTATE);
    CHECK(host.request_respond(&handle, 403, nullptr, 0, s("")) == PROXYD_ESTATE);
    CHECK(host.response_head_status(&handle) == PROXYD_ESTATE);
    CHECK(host.response_head_set_header(&handle, s("X-A"), s("1")) == PROXYD_ESTATE);
    CHECK(host.response_head_header_count(&handle) == 0);
    CHECK(host.filter_resume(&handle, PROXYD_FILTER_CONTINUE) == PROXYD_ESTATE);
    CHECK(host.request_state_get(&handle, &host) == nullptr);
    CHECK(host.timer_start(
              nullptr, 1, [](void *) {}, nullptr, nullptr) == PROXYD_EINVAL);
    CHECK(host.queue_work(
              nullptr, [](void *) {}, [](void *) {}, nullptr) == PROXYD_EINVAL);
    // Reading still works on the parsed head.
    proxyd_str value{};
    CHECK(host.request_header(&handle, s("host"), &value) == PROXYD_OK);
    CHECK(std::string_view(value.ptr, value.len) == "a");
}
