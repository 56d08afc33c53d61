// H2Session driven by nghttp2's own client side in the same process (no sockets), and by
// hand-built frames where a well-behaved client would not send what the test needs.
#include "h2/h2_memory_pool.hpp"
#include "h2/h2_session.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <nghttp2/nghttp2.h>
#include <string>
#include <vector>

using namespace proxyd;

namespace {

// The session's owner: records what it hears; answers when told to.
struct Owner : H2Events {
    H2Session *session = nullptr;
    std::vector<H2RequestHead> heads;
    std::map<int32_t, std::string> bodies;
    std::vector<int32_t> ended;
    std::map<int32_t, std::vector<H2Field>> trailers;
    std::vector<H2Field> answer_trailers; // sent after the answer's body when not empty
    std::map<int32_t, uint32_t> closed;
    std::map<int32_t, size_t> unsent; // response bytes that never left, at the close
    bool consume_at_once = true;
    bool answer_at_end = true;
    std::string answer_body = "hello";

    void on_request_head(H2RequestHead head) override { heads.push_back(std::move(head)); }
    void on_request_data(int32_t id, std::string_view data) override {
        bodies[id].append(data);
        if (consume_at_once) session->consume(id, data.size());
    }
    void on_request_trailers(int32_t id, std::vector<H2Field> &&fields) override { trailers[id] = fields; }
    void on_request_end(int32_t id) override {
        ended.push_back(id);
        if (answer_at_end) answer(id);
    }
    void on_stream_close(int32_t id, uint32_t code, size_t left) override {
        closed[id] = code;
        unsent[id] = left;
    }
    void on_response_data_sent(int32_t, size_t) override {}
    void on_response_read_failed(int32_t, int) override {}

    void answer(int32_t id) {
        REQUIRE(session->submit_response(id, 200, {{"Content-Type", "text/plain"}, {"Connection", "close"}},
                                         true));
        if (!answer_trailers.empty()) REQUIRE(session->send_trailers(id, answer_trailers));
        REQUIRE(session->send_data(id, answer_body, true));
    }
    const H2RequestHead *head(int32_t id) const {
        for (const auto &h : heads)
            if (h.stream_id == id) return &h;
        return nullptr;
    }
};

std::string field_of(const H2RequestHead &head, const std::string &name) {
    for (const auto &[n, v] : head.fields)
        if (n == name) return v;
    return "<none>";
}

// nghttp2's client session, recording each stream's response.
struct Client {
    struct Response {
        std::map<std::string, std::string> fields;
        std::map<std::string, std::string> trailers; // a HEADERS after the body
        std::string body;
        bool closed = false;
        uint32_t error_code = 0;
    };
    nghttp2_session *session = nullptr;
    std::map<int32_t, Response> responses;
    bool goaway = false;
    uint32_t goaway_code = 0;
    int32_t goaway_last_stream = -1;
    std::string upload; // the body every request with a body sends
    size_t upload_offset = 0;
    std::vector<std::pair<std::string, std::string>> upload_trailers; // sent after it when not empty

    explicit Client(size_t peer_max_streams = 100) {
        nghttp2_session_callbacks *cb = nullptr;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_on_header_callback(
            cb, [](nghttp2_session *, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                   const uint8_t *value, size_t valuelen, uint8_t, void *ud) {
                auto &response = static_cast<Client *>(ud)->responses[frame->hd.stream_id];
                auto &into = frame->headers.cat == NGHTTP2_HCAT_HEADERS ? response.trailers : response.fields;
                into[std::string(reinterpret_cast<const char *>(name), namelen)] =
                    std::string(reinterpret_cast<const char *>(value), valuelen);
                return 0;
            });
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
            cb, [](nghttp2_session *, uint8_t, int32_t id, const uint8_t *data, size_t len, void *ud) {
                static_cast<Client *>(ud)->responses[id].body.append(reinterpret_cast<const char *>(data),
                                                                     len);
                return 0;
            });
        nghttp2_session_callbacks_set_on_stream_close_callback(
            cb, [](nghttp2_session *, int32_t id, uint32_t code, void *ud) {
                auto &r = static_cast<Client *>(ud)->responses[id];
                r.closed = true;
                r.error_code = code;
                return 0;
            });
        nghttp2_session_callbacks_set_on_frame_recv_callback(
            cb, [](nghttp2_session *, const nghttp2_frame *frame, void *ud) {
                if (frame->hd.type == NGHTTP2_GOAWAY) {
                    auto *c = static_cast<Client *>(ud);
                    c->goaway = true;
                    c->goaway_code = frame->goaway.error_code;
                    c->goaway_last_stream = frame->goaway.last_stream_id;
                }
                return 0;
            });
        nghttp2_option *options = nullptr;
        nghttp2_option_new(&options);
        nghttp2_option_set_peer_max_concurrent_streams(options, static_cast<uint32_t>(peer_max_streams));
        nghttp2_option_set_max_send_header_block_length(options, 1 << 20);
        nghttp2_session_client_new2(&session, cb, this, options);
        nghttp2_option_del(options);
        nghttp2_session_callbacks_del(cb);
        nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
    }
    ~Client() { nghttp2_session_del(session); }

    int32_t request(const std::string &method, const std::string &path,
                    std::vector<std::pair<std::string, std::string>> extra = {}, bool with_body = false) {
        std::vector<std::pair<std::string, std::string>> all = {
            {":method", method}, {":scheme", "https"}, {":path", path}, {":authority", "example.com"}};
        all.insert(all.end(), extra.begin(), extra.end());
        std::vector<nghttp2_nv> nva;
        for (auto &[n, v] : all)
            nva.push_back({reinterpret_cast<uint8_t *>(n.data()), reinterpret_cast<uint8_t *>(v.data()),
                           n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
        nghttp2_data_provider provider{};
        provider.read_callback = [](nghttp2_session *client, int32_t id, uint8_t *buf, size_t length,
                                    uint32_t *flags, nghttp2_data_source *, void *ud) -> ssize_t {
            auto *c = static_cast<Client *>(ud);
            size_t n = std::min(length, c->upload.size() - c->upload_offset);
            std::memcpy(buf, c->upload.data() + c->upload_offset, n);
            c->upload_offset += n;
            if (c->upload_offset == c->upload.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
            if (c->upload_offset == c->upload.size() && !c->upload_trailers.empty()) {
                std::vector<nghttp2_nv> trailers;
                for (auto &[name, value] : c->upload_trailers)
                    trailers.push_back({reinterpret_cast<uint8_t *>(name.data()),
                                        reinterpret_cast<uint8_t *>(value.data()), name.size(), value.size(),
                                        NGHTTP2_NV_FLAG_NONE});
                REQUIRE(nghttp2_submit_trailer(client, id, trailers.data(), trailers.size()) == 0);
                *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            }
            return static_cast<ssize_t>(n);
        };
        int32_t id = nghttp2_submit_request(session, nullptr, nva.data(), nva.size(),
                                            with_body ? &provider : nullptr, nullptr);
        REQUIRE(id > 0);
        return id;
    }

    std::string send() {
        std::string out;
        for (;;) {
            const uint8_t *data = nullptr;
            ssize_t n = nghttp2_session_mem_send(session, &data);
            REQUIRE(n >= 0);
            if (n == 0) break;
            out.append(reinterpret_cast<const char *>(data), static_cast<size_t>(n));
        }
        return out;
    }
    void receive(const std::string &bytes) {
        ssize_t n =
            nghttp2_session_mem_recv(session, reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
        REQUIRE(n == static_cast<ssize_t>(bytes.size()));
    }
};

// Client and server talk until neither has anything to say; the server's last status.
H2Session::Status pump(Client &client, H2Session &server) {
    H2Session::Status status = H2Session::Status::kOk;
    for (int round = 0; round < 1000; ++round) {
        std::string to_server = client.send();
        std::string to_client;
        status = server.receive(to_server.data(), to_server.size(), to_client);
        if (status == H2Session::Status::kOk) status = server.flush(to_client);
        if (!to_client.empty()) client.receive(to_client);
        if (to_server.empty() && to_client.empty()) break;
        if (status != H2Session::Status::kOk) break;
    }
    return status;
}

// A frame as RFC 9113 §4.1 lays it out.
std::string frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string &payload) {
    std::string f;
    auto len = static_cast<uint32_t>(payload.size());
    f += static_cast<char>(len >> 16);
    f += static_cast<char>(len >> 8);
    f += static_cast<char>(len);
    f += static_cast<char>(type);
    f += static_cast<char>(flags);
    f += static_cast<char>(stream >> 24);
    f += static_cast<char>(stream >> 16);
    f += static_cast<char>(stream >> 8);
    f += static_cast<char>(stream);
    return f + payload;
}

const std::string kPreface =
    std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + frame(NGHTTP2_SETTINGS, 0, 0, "");

// HPACK blocks from the static table and one literal: GET and POST of https "/" with :authority
// example.com, and a trailer section of one field (x: y).
const std::string kGetExample = std::string("\x82\x87\x84\x01\x0b") + "example.com";
const std::string kPostExample = std::string("\x83\x87\x84\x01\x0b") + "example.com";
const std::string kTrailerXY("\x00\x01x\x01y", 5);

// The frames of a server's output: (type, flags, stream, payload).
struct Frame {
    uint8_t type;
    uint8_t flags;
    uint32_t stream;
    std::string payload;
};
std::vector<Frame> frames_of(const std::string &bytes) {
    std::vector<Frame> out;
    size_t at = 0;
    while (at + 9 <= bytes.size()) {
        auto b = [&](size_t i) { return static_cast<uint8_t>(bytes[at + i]); };
        size_t len = (size_t{b(0)} << 16) | (size_t{b(1)} << 8) | b(2);
        uint32_t stream =
            ((uint32_t{b(5)} & 0x7f) << 24) | (uint32_t{b(6)} << 16) | (uint32_t{b(7)} << 8) | b(8);
        out.push_back({b(3), b(4), stream, bytes.substr(at + 9, len)});
        at += 9 + len;
    }
    return out;
}
uint32_t goaway_code(const std::vector<Frame> &frames) {
    for (const Frame &f : frames)
        if (f.type == NGHTTP2_GOAWAY && f.payload.size() >= 8)
            return (uint32_t{static_cast<uint8_t>(f.payload[4])} << 24) |
                   (uint32_t{static_cast<uint8_t>(f.payload[5])} << 16) |
                   (uint32_t{static_cast<uint8_t>(f.payload[6])} << 8) | static_cast<uint8_t>(f.payload[7]);
    return 0xffffffff;
}

} // namespace

TEST_CASE("h2: a GET becomes a request head with Host and joined cookies, and is answered", "[h2]") {
    Owner owner;
    H2Session server(owner);
    owner.session = &server;
    Client client;
    int32_t id =
        client.request("GET", "/index.html?q=1", {{"cookie", "a=1"}, {"accept", "*/*"}, {"cookie", "b=2"}});
    CHECK(pump(client, server) == H2Session::Status::kOk);

    REQUIRE(owner.heads.size() == 1);
    const H2RequestHead &head = owner.heads[0];
    CHECK(head.stream_id == id);
    CHECK(head.method == "GET");
    CHECK(head.path == "/index.html?q=1");
    CHECK(head.scheme == "https");
    CHECK_FALSE(head.has_body);
    CHECK(field_of(head, "host") == "example.com");
    CHECK(field_of(head, "cookie") == "a=1; b=2");
    CHECK(field_of(head, "accept") == "*/*");
    CHECK(owner.ended == std::vector<int32_t>{id});

    const Client::Response &r = client.responses[id];
    CHECK(r.fields.at(":status") == "200");
    CHECK(r.fields.at("content-type") == "text/plain");
    CHECK(r.fields.count("connection") == 0);
    CHECK(r.body == "hello");
    CHECK(r.closed);
    CHECK(r.error_code == 0);
    CHECK(owner.closed.at(id) == 0);
    CHECK(owner.unsent.at(id) == 0);
    CHECK(server.open_streams() == 0);
}

TEST_CASE("h2: a client's RST_STREAM(NO_ERROR) mid-body closes the stream with its bytes unsent", "[h2]") {
    Owner owner;
    owner.answer_at_end = false;
    H2Session server(owner);
    owner.session = &server;
    Client client;
    nghttp2_settings_entry no_window{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0};
    nghttp2_submit_settings(client.session, NGHTTP2_FLAG_NONE, &no_window, 1);
    int32_t id = client.request("GET", "/held");
    pump(client, server);
    REQUIRE(server.submit_response(id, 200, {}, true));
    REQUIRE(server.send_data(id, std::string(3000, 'x'), true));
    pump(client, server);
    CHECK(server.queued(id) == 3000); // no window: nothing left
    nghttp2_submit_rst_stream(client.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
    pump(client, server);
    CHECK(owner.closed.at(id) == NGHTTP2_NO_ERROR);
    CHECK(owner.unsent.at(id) == 3000);
}

TEST_CASE("h2: sessions on a worker's memory pool serve streams from its spare blocks", "[h2]") {
    H2MemoryPool pool;
    for (int connection = 0; connection < 2; ++connection) {
        Owner owner;
        H2Session server(owner, {}, &pool);
        owner.session = &server;
        Client client;
        std::vector<int32_t> ids;
        for (int i = 0; i < 5; ++i)
            ids.push_back(client.request("GET", "/n/" + std::to_string(i), {{"accept", "*/*"}}));
        CHECK(pump(client, server) == H2Session::Status::kOk);
        for (int32_t id : ids) {
            CHECK(client.responses[id].fields.at(":status") == "200");
            CHECK(client.responses[id].body == "hello");
            CHECK(client.responses[id].closed);
        }
        CHECK(server.open_streams() == 0);
        CHECK(pool.spare_bytes() > 0); // the streams' blocks came back
    }
}

TEST_CASE("h2: a POST body arrives only as fast as the owner consumes it", "[h2]") {
    Owner owner;
    owner.consume_at_once = false;
    H2Limits limits;
    H2Session server(owner, limits);
    owner.session = &server;
    Client client;
    client.upload.assign(200 * 1024, 'x');
    int32_t id =
        client.request("POST", "/upload", {{"content-length", std::to_string(client.upload.size())}}, true);
    pump(client, server);
    REQUIRE(owner.heads.size() == 1);
    CHECK(owner.heads[0].has_body);
    // Nothing consumed: the stream's window is all the client could send.
    CHECK(owner.bodies[id].size() == limits.initial_stream_window);
    CHECK(owner.ended.empty());

    for (int rounds = 0; rounds < 100 && owner.ended.empty(); ++rounds) {
        size_t before = owner.bodies[id].size();
        server.consume(id, before); // more than is unconsumed is clamped
        pump(client, server);
        REQUIRE(owner.bodies[id].size() > before);
    }
    CHECK(owner.bodies[id] == client.upload);
    CHECK(owner.ended == std::vector<int32_t>{id});
    CHECK(client.responses[id].body == "hello");
}

TEST_CASE("h2: a response body deferred until the owner has it", "[h2]") {
    Owner owner;
    owner.answer_at_end = false;
    H2Session server(owner);
    owner.session = &server;
    Client client;
    int32_t id = client.request("GET", "/slow");
    pump(client, server);
    REQUIRE(server.submit_response(id, 200, {}, true));
    pump(client, server);
    CHECK(client.responses[id].fields.at(":status") == "200");
    CHECK_FALSE(client.responses[id].closed);
    REQUIRE(server.send_data(id, "part one, ", false));
    pump(client, server);
    CHECK(client.responses[id].body == "part one, ");
    REQUIRE(server.send_data(id, "part two", true));
    pump(client, server);
    CHECK(client.responses[id].body == "part one, part two");
    CHECK(client.responses[id].closed);
    CHECK(server.queued(id) == 0);
}

TEST_CASE("h2: 100 concurrent streams are taken, the 101st is refused", "[h2]") {
    Owner owner;
    owner.answer_at_end = false;
    H2Session server(owner);
    owner.session = &server;
    Client client(1000); // before it hears our SETTINGS, it believes it may open 1000
    std::vector<int32_t> ids;
    for (int i = 0; i < 101; ++i)
        ids.push_back(client.request("GET", "/s" + std::to_string(i)));
    pump(client, server);
    CHECK(owner.heads.size() == 100);
    CHECK(server.open_streams() == 100);
    const Client::Response &refused = client.responses[ids.back()];
    CHECK(refused.closed);
    CHECK((refused.error_code == NGHTTP2_REFUSED_STREAM || refused.error_code == NGHTTP2_PROTOCOL_ERROR));
    CHECK(owner.head(ids.back()) == nullptr);

    for (const H2RequestHead &h : owner.heads)
        owner.answer(h.stream_id);
    CHECK(pump(client, server) == H2Session::Status::kOk);
    for (size_t i = 0; i < 100; ++i)
        CHECK(client.responses[ids[i]].body == "hello");
    CHECK(server.open_streams() == 0);
    CHECK_FALSE(client.goaway);
}

TEST_CASE("h2: connection-specific request fields reset the stream (RFC 9113 8.2.2)", "[h2]") {
    Owner owner;
    H2Session server(owner);
    owner.session = &server;
    Client client;
    int32_t bad = client.request("GET", "/", {{"connection", "keep-alive"}});
    int32_t bad_te = client.request("GET", "/", {{"te", "gzip"}});
    int32_t good_te = client.request("GET", "/", {{"te", "trailers"}});
    int32_t other_host = client.request("GET", "/", {{"host", "other.example"}});
    pump(client, server);
    CHECK(client.responses[bad].error_code == NGHTTP2_PROTOCOL_ERROR);
    CHECK(client.responses[bad_te].error_code == NGHTTP2_PROTOCOL_ERROR);
    CHECK(client.responses[other_host].error_code == NGHTTP2_PROTOCOL_ERROR);
    CHECK(client.responses[good_te].body == "hello");
    CHECK(owner.heads.size() == 1);
    CHECK_FALSE(client.goaway);
    CHECK(server.open_streams() == 0);
}

TEST_CASE("h2: a header list over the limit is answered 431, the connection goes on", "[h2]") {
    Owner owner;
    H2Limits limits;
    H2Session server(owner, limits);
    owner.session = &server;
    Client client;
    std::vector<std::pair<std::string, std::string>> big;
    for (int i = 0; i < 20; ++i)
        big.emplace_back("x-big-" + std::to_string(i), std::string(4000, 'v'));
    int32_t id = client.request("GET", "/", big);
    int32_t next = client.request("GET", "/after");
    pump(client, server);
    CHECK(client.responses[id].fields.at(":status") == "431");
    CHECK(owner.head(id) == nullptr);
    CHECK(client.responses[next].body == "hello");
    CHECK_FALSE(client.goaway);
    CHECK(server.open_streams() == 0);
}

TEST_CASE("h2: a rapid-reset flood ends the connection with a GOAWAY", "[h2]") {
    Owner owner;
    owner.answer_at_end = false;
    H2Limits limits;
    limits.reset_burst = 50;
    limits.resets_per_second = 1;
    H2Session server(owner, limits);
    owner.session = &server;
    Client client;
    pump(client, server);
    std::string flood;
    for (int i = 0; i < 200; ++i) {
        int32_t id = client.request("GET", "/r");
        flood += client.send();
        nghttp2_submit_rst_stream(client.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
        flood += client.send();
    }
    std::string out;
    H2Session::Status status = server.receive(flood.data(), flood.size(), out);
    CHECK(status == H2Session::Status::kClosing);
    uint32_t code = goaway_code(frames_of(out));
    INFO("GOAWAY code " << code << "; " << server.error_text());
    CHECK(code == NGHTTP2_ENHANCE_YOUR_CALM);
    CHECK(owner.heads.size() < 200);
}

TEST_CASE("h2: a CONTINUATION flood ends the connection with ENHANCE_YOUR_CALM", "[h2]") {
    Owner owner;
    H2Session server(owner);
    owner.session = &server;
    std::string field = kTrailerXY; // literal field x: y, not indexed
    std::string in = kPreface + frame(NGHTTP2_HEADERS, 0, 1, "\x82\x87\x84" + field); // GET https /
    for (int i = 0; i < 20; ++i)
        in += frame(NGHTTP2_CONTINUATION, 0, 1, field);
    std::string out;
    CHECK(server.receive(in.data(), in.size(), out) == H2Session::Status::kClosing);
    CHECK(goaway_code(frames_of(out)) == NGHTTP2_ENHANCE_YOUR_CALM);
    CHECK(owner.heads.empty());
}

TEST_CASE("h2: a SETTINGS flood whose answers are never read ends the connection", "[h2]") {
    Owner owner;
    H2Limits limits;
    limits.max_outbound_ack = 100;
    H2Session server(owner, limits);
    owner.session = &server;
    std::string in = kPreface;
    for (int i = 0; i < 500; ++i)
        in += frame(NGHTTP2_SETTINGS, 0, 0, "");
    std::string out;
    CHECK(server.receive(in.data(), in.size(), out) == H2Session::Status::kClosing);
    CHECK(goaway_code(frames_of(out)) == NGHTTP2_ENHANCE_YOUR_CALM);
}

TEST_CASE("h2: a PRIORITY flood ends the connection with ENHANCE_YOUR_CALM", "[h2]") {
    Owner owner;
    H2Limits limits;
    limits.idle_frame_burst = 50;
    H2Session server(owner, limits);
    owner.session = &server;
    std::string in = kPreface;
    for (uint32_t i = 0; i < 200; ++i)
        in += frame(NGHTTP2_PRIORITY, 0, 2 * i + 1, std::string("\x00\x00\x00\x00\x10", 5));
    std::string out;
    CHECK(server.receive(in.data(), in.size(), out) == H2Session::Status::kClosing);
    CHECK(goaway_code(frames_of(out)) == NGHTTP2_ENHANCE_YOUR_CALM);
}

TEST_CASE("h2: drain sends GOAWAY naming the last stream taken, which still finishes", "[h2]") {
    Owner owner;
    owner.answer_at_end = false;
    H2Session server(owner);
    owner.session = &server;
    Client client;
    int32_t first = client.request("GET", "/first");
    pump(client, server);
    server.drain();
    pump(client, server);
    CHECK(client.goaway);
    CHECK(client.goaway_code == NGHTTP2_NO_ERROR);
    CHECK(client.goaway_last_stream == first);
    owner.answer(first);
    pump(client, server);
    CHECK(client.responses[first].body == "hello");
    CHECK(server.finished());
}

TEST_CASE("h2: bytes that are not HTTP/2 are an error at once", "[h2]") {
    Owner owner;
    H2Session server(owner);
    owner.session = &server;
    std::string in = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    std::string out;
    CHECK(server.receive(in.data(), in.size(), out) == H2Session::Status::kError);
    CHECK_FALSE(server.error_text().empty());
}

TEST_CASE("h2: a reset stream's unconsumed bytes go back to the connection's window", "[h2]") {
    Owner owner;
    owner.consume_at_once = false;
    H2Limits limits;
    limits.connection_window = 65535; // the protocol's initial window: one stream can fill it
    limits.initial_stream_window = 65535;
    H2Session server(owner, limits);
    owner.session = &server;
    Client client;
    client.upload.assign(100000, 'a');
    int32_t first = client.request("POST", "/fills-the-window", {}, true);
    pump(client, server);
    REQUIRE(owner.bodies[first].size() == 65535);
    nghttp2_submit_rst_stream(client.session, NGHTTP2_FLAG_NONE, first, NGHTTP2_CANCEL);
    pump(client, server);
    REQUIRE(owner.closed.count(first) == 1);

    client.upload.assign(1000, 'b');
    client.upload_offset = 0;
    int32_t second = client.request("POST", "/after", {}, true);
    pump(client, server);
    CHECK(owner.bodies[second] == client.upload);
    CHECK(owner.ended == std::vector<int32_t>{second});
}

TEST_CASE("h2: a flood of empty DATA frames ends the connection with ENHANCE_YOUR_CALM", "[h2]") {
    Owner owner;
    H2Limits limits;
    limits.idle_frame_burst = 50;
    H2Session server(owner, limits);
    owner.session = &server;
    std::string in = kPreface + frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1,
                                      "\x83\x87\x84\x41\x01"
                                      "a"); // POST https / a
    for (int i = 0; i < 200; ++i)
        in += frame(NGHTTP2_DATA, 0, 1, "");
    std::string out;
    CHECK(server.receive(in.data(), in.size(), out) == H2Session::Status::kClosing);
    CHECK(goaway_code(frames_of(out)) == NGHTTP2_ENHANCE_YOUR_CALM);
    CHECK(owner.heads.size() == 1);
    CHECK(server.error_text().find("empty DATA") != std::string::npos);
}

TEST_CASE("h2: HEADERS on a closed stream or below a stream opened is a connection error (RFC 9113 5.1.1)",
          "[h2]") {
    // GET https / with :authority example.com: the static table and a literal, nothing indexed
    SECTION("the same stream again after its response") {
        Owner owner;
        H2Session server(owner);
        owner.session = &server;
        std::string out;
        std::string in = kPreface + frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM,
                                          1, kGetExample);
        REQUIRE(server.receive(in.data(), in.size(), out) == H2Session::Status::kOk);
        REQUIRE(server.flush(out) == H2Session::Status::kOk);
        REQUIRE(server.open_streams() == 0); // answered and closed
        out.clear();
        in = frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, kGetExample);
        CHECK(server.receive(in.data(), in.size(), out) == H2Session::Status::kClosing);
        CHECK(goaway_code(frames_of(out)) == NGHTTP2_PROTOCOL_ERROR);
        CHECK(owner.heads.size() == 1);
    }
    SECTION("a lower stream id than one opened (5, then 3)") {
        Owner owner;
        owner.answer_at_end = false;
        H2Session server(owner);
        owner.session = &server;
        std::string out;
        std::string in =
            kPreface +
            frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 5, kGetExample) +
            frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 3, kGetExample);
        CHECK(server.receive(in.data(), in.size(), out) == H2Session::Status::kClosing);
        CHECK(goaway_code(frames_of(out)) == NGHTTP2_PROTOCOL_ERROR);
        REQUIRE(owner.heads.size() == 1);
        CHECK(owner.heads[0].stream_id == 5);
    }
}

TEST_CASE("h2: trailers that cross our RST_STREAM are ignored, the connection goes on", "[h2]") {
    Owner owner;
    owner.answer_at_end = false;
    H2Session server(owner);
    owner.session = &server;
    std::string out;
    std::string in =
        kPreface + frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, kGetExample); // a body to follow
    REQUIRE(server.receive(in.data(), in.size(), out) == H2Session::Status::kOk);
    REQUIRE(owner.heads.size() == 1);
    server.reset_stream(1, NGHTTP2_CANCEL);
    REQUIRE(server.flush(out) == H2Session::Status::kOk);
    REQUIRE(server.open_streams() == 0);
    out.clear();
    // The client sent its trailers before it read the RST_STREAM; then a new request.
    in = frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, kTrailerXY) +
         frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 3, kGetExample);
    CHECK(server.receive(in.data(), in.size(), out) == H2Session::Status::kOk);
    CHECK(goaway_code(frames_of(out)) == 0xffffffff);
    REQUIRE(owner.heads.size() == 2);
    CHECK(owner.heads[1].stream_id == 3);
}

TEST_CASE("h2: a response's trailers follow its body as a HEADERS frame that ends the stream",
          "[h2][trailers]") {
    Owner owner;
    owner.answer_trailers = {{"grpc-status", "0"}, {"x-checksum", "abc"}};
    H2Session server(owner);
    owner.session = &server;
    Client client;
    int32_t id = client.request("GET", "/");
    pump(client, server);
    CHECK(client.responses[id].body == "hello");
    CHECK(client.responses[id].trailers ==
          std::map<std::string, std::string>{{"grpc-status", "0"}, {"x-checksum", "abc"}});
    CHECK(client.responses[id].fields.count("grpc-status") == 0);
    CHECK(client.responses[id].closed);
    CHECK(client.responses[id].error_code == 0);
}

TEST_CASE("h2: trailers for a response without a body are refused, its stream ends cleanly",
          "[h2][trailers]") {
    Owner owner;
    owner.answer_at_end = false;
    H2Session server(owner);
    owner.session = &server;
    Client client;
    int32_t head = client.request("HEAD", "/");
    int32_t no_content = client.request("GET", "/gone");
    pump(client, server);
    REQUIRE(owner.ended == std::vector<int32_t>{head, no_content});
    // A HEAD answer, or a 204: the head ends the stream, so no trailers may follow it.
    REQUIRE(server.submit_response(head, 200, {{"content-length", "5"}}, false));
    CHECK_FALSE(server.send_trailers(head, {{"grpc-status", "0"}}));
    CHECK_FALSE(server.send_data(head, "hello", true));
    REQUIRE(server.submit_response(no_content, 204, {}, false));
    CHECK_FALSE(server.send_trailers(no_content, {{"x-checksum", "abc"}}));
    CHECK(pump(client, server) == H2Session::Status::kOk);
    for (int32_t id : {head, no_content}) {
        const Client::Response &r = client.responses[id];
        CHECK(r.fields.at(":status") == (id == head ? "200" : "204"));
        CHECK(r.trailers.empty());
        CHECK(r.body.empty());
        CHECK(r.closed);
        CHECK(r.error_code == 0);
    }
    CHECK_FALSE(client.goaway);
    CHECK(server.open_streams() == 0);
}

TEST_CASE("h2: a request's trailers reach the owner before its end", "[h2][trailers]") {
    Owner owner;
    H2Session server(owner);
    owner.session = &server;
    Client client;
    client.upload = "body";
    client.upload_trailers = {{"x-checksum", "123"}, {"x-more", "yes"}};
    int32_t id = client.request("POST", "/up", {}, true);
    pump(client, server);
    CHECK(owner.bodies[id] == "body");
    REQUIRE(owner.trailers.count(id) == 1);
    CHECK(owner.trailers[id] == std::vector<H2Field>{{"x-checksum", "123"}, {"x-more", "yes"}});
    CHECK(owner.ended == std::vector<int32_t>{id});
    CHECK(client.responses[id].body == "hello");
}

TEST_CASE("h2: request trailers over the header list limit reset the stream, the connection goes on",
          "[h2][trailers]") {
    Owner owner;
    H2Limits limits;
    limits.max_header_list_size = 4096;
    H2Session server(owner, limits);
    owner.session = &server;
    Client client;
    client.upload = "body";
    for (int i = 0; i < 4; ++i)
        client.upload_trailers.emplace_back("x-big-" + std::to_string(i), std::string(2000, 'v'));
    int32_t id = client.request("POST", "/up", {}, true);
    pump(client, server);
    CHECK(owner.trailers.count(id) == 0);
    CHECK(owner.ended.empty());
    CHECK(client.responses[id].closed);
    CHECK(client.responses[id].error_code == NGHTTP2_INTERNAL_ERROR);
    int32_t next = client.request("GET", "/after");
    pump(client, server);
    CHECK(client.responses[next].body == "hello");
    CHECK_FALSE(client.goaway);
}

// RFC 9113 §8.1: a response that ended while the client's side was still open (an early answer
// to an upload) is followed by RST_STREAM(NO_ERROR), so the stream closes instead of waiting for
// the rest of a body nobody reads; a tunnel's END_STREAM is a half-close and is not.
namespace {

bool reset_with(const std::vector<Frame> &frames, uint32_t stream, uint32_t code) {
    for (const Frame &f : frames)
        if (f.type == NGHTTP2_RST_STREAM && f.stream == stream && f.payload.size() == 4 &&
            static_cast<uint8_t>(f.payload[3]) == code && f.payload.substr(0, 3) == std::string(3, '\0'))
            return true;
    return false;
}

bool ended_by(const std::vector<Frame> &frames, uint32_t stream, uint8_t type) {
    for (const Frame &f : frames)
        if (f.type == type && f.stream == stream && (f.flags & NGHTTP2_FLAG_END_STREAM)) return true;
    return false;
}

} // namespace

TEST_CASE("h2: a response that ends before its request is followed by RST_STREAM(NO_ERROR)", "[h2]") {
    Owner owner;
    owner.answer_at_end = false;
    H2Session server(owner);
    owner.session = &server;
    std::string out;
    std::string in = kPreface + frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, kPostExample) +
                     frame(NGHTTP2_DATA, 0, 1, "part of the body");
    REQUIRE(server.receive(in.data(), in.size(), out) == H2Session::Status::kOk);
    REQUIRE(owner.heads.size() == 1);

    SECTION("a response with a body") {
        owner.answer(1);
        REQUIRE(server.flush(out) == H2Session::Status::kOk);
        std::vector<Frame> frames = frames_of(out);
        CHECK(ended_by(frames, 1, NGHTTP2_DATA));
        CHECK(reset_with(frames, 1, NGHTTP2_NO_ERROR));
    }
    SECTION("a head that ends the stream (413)") {
        REQUIRE(server.submit_response(1, 413, {{"content-length", "0"}}, false));
        REQUIRE(server.flush(out) == H2Session::Status::kOk);
        std::vector<Frame> frames = frames_of(out);
        CHECK(ended_by(frames, 1, NGHTTP2_HEADERS));
        CHECK(reset_with(frames, 1, NGHTTP2_NO_ERROR));
    }
    CHECK(server.open_streams() == 0);
    CHECK(owner.closed.at(1) == NGHTTP2_NO_ERROR);
    CHECK(owner.unsent.at(1) == 0);
    // The rest of the body and trailers, sent before the client read the reset, are dropped;
    // the connection goes on.
    out.clear();
    in = frame(NGHTTP2_DATA, 0, 1, "the rest") +
         frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, kTrailerXY) +
         frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 3, kGetExample);
    owner.answer_at_end = true;
    CHECK(server.receive(in.data(), in.size(), out) == H2Session::Status::kOk);
    CHECK(server.flush(out) == H2Session::Status::kOk);
    CHECK(goaway_code(frames_of(out)) == 0xffffffff);
    CHECK(owner.bodies[1] == "part of the body");
    REQUIRE(owner.heads.size() == 2);
    CHECK(ended_by(frames_of(out), 3, NGHTTP2_DATA));
    CHECK_FALSE(reset_with(frames_of(out), 3, NGHTTP2_NO_ERROR)); // its request had ended
}

TEST_CASE("h2: a tunnel's END_STREAM leaves the client's side open", "[h2]") {
    Owner owner;
    owner.answer_at_end = false;
    H2Limits limits;
    limits.enable_connect_protocol = true;
    H2Session server(owner, limits);
    owner.session = &server;
    std::string out;
    REQUIRE(server.flush(out) == H2Session::Status::kOk); // our SETTINGS, which the client acknowledges
    // CONNECT https / example.com with :protocol websocket (RFC 8441)
    const std::string connect = std::string("\x02\x07") + "CONNECT" + "\x87\x84\x01\x0b" + "example.com" +
                                std::string("\x00\x09:protocol\x09websocket", 21);
    std::string in = kPreface + frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, "") +
                     frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, connect);
    REQUIRE(server.receive(in.data(), in.size(), out) == H2Session::Status::kOk);
    REQUIRE(owner.heads.size() == 1);
    REQUIRE(owner.heads[0].protocol == "websocket");
    REQUIRE(server.submit_response(1, 200, {}, true));
    REQUIRE(server.send_data(1, "the upstream's last bytes", true));
    out.clear();
    REQUIRE(server.flush(out) == H2Session::Status::kOk);
    CHECK(ended_by(frames_of(out), 1, NGHTTP2_DATA));
    CHECK_FALSE(reset_with(frames_of(out), 1, NGHTTP2_NO_ERROR));
    CHECK(server.open_streams() == 1);
    in = frame(NGHTTP2_DATA, 0, 1, "the client's side goes on");
    REQUIRE(server.receive(in.data(), in.size(), out) == H2Session::Status::kOk);
    CHECK(owner.bodies[1] == "the client's side goes on");
}

TEST_CASE("h2: trailers crossing the resets of as many streams as may be open are ignored", "[h2]") {
    Owner owner;
    owner.answer_at_end = false;
    H2Session server(owner);
    owner.session = &server;
    constexpr uint32_t kStreams = 100; // the default max_concurrent_streams, all uploading
    std::string in = kPreface;
    for (uint32_t i = 0; i < kStreams; ++i)
        in += frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1 + 2 * i, kPostExample);
    std::string out;
    REQUIRE(server.receive(in.data(), in.size(), out) == H2Session::Status::kOk);
    REQUIRE(owner.heads.size() == kStreams);
    for (uint32_t i = 0; i < kStreams; ++i) // each answered early: reset with NO_ERROR after it
        REQUIRE(
            server.submit_response(static_cast<int32_t>(1 + 2 * i), 413, {{"content-length", "0"}}, false));
    REQUIRE(server.flush(out) == H2Session::Status::kOk);
    REQUIRE(server.open_streams() == 0);
    // Each client's trailers left before it read its reset; then a new request.
    in.clear();
    for (uint32_t i = 0; i < kStreams; ++i)
        in +=
            frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1 + 2 * i, kTrailerXY);
    in += frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1 + 2 * kStreams,
                kGetExample);
    out.clear();
    CHECK(server.receive(in.data(), in.size(), out) == H2Session::Status::kOk);
    CHECK(goaway_code(frames_of(out)) == 0xffffffff);
    CHECK(owner.heads.size() == kStreams + 1);
}
