// content_static.so through the ABI: config validation (including MIME files) and the responses
// it sends through the host calls.
#include "fake_host.hpp"
#include "temp_tree.hpp"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <sys/time.h>

using namespace proxyd::test;

namespace {

const std::string kSourceMime = std::string(PROXYD_SOURCE_DIR) + "/conf.d/mime.toml";

struct Static {
    PluginModule module{"content_static.so"};
    TempTree tree;
    FakeHost host;
    void *instance = nullptr;

    Static() {
        tree.file("www/index.html", "<h1>home</h1>");
        tree.file("www/a.txt", "hello");
        tree.file("www/app.MJS", "export {}");
        tree.file("www/noext", "x");
        tree.file("www/empty.css", "");
        tree.dir("www/sub");
        tree.file("www/sub/page.htm", "page");
        // Dated long ago: a file under two seconds old has a weak ETag.
        struct timeval old_times[2] = {{1600000000, 0}, {1600000000, 0}};
        for (const char *name : {"www/index.html", "www/a.txt", "www/app.MJS", "www/noext", "www/empty.css"})
            REQUIRE(utimes(tree.path(name).c_str(), old_times) == 0);
        host.config_dir = tree.path();
    }
    bool load(const std::string &toml) {
        instance = host.create(module, toml);
        return instance != nullptr;
    }
    struct Sent {
        int rc;
        std::unique_ptr<FakeResponse> response;
    };
    Sent request(std::string method, std::string target, std::string rewritten = "") const {
        FakeRequest request(std::move(method), std::move(target));
        if (!rewritten.empty()) request.rewrite_path(std::move(rewritten));
        auto response = std::make_unique<FakeResponse>();
        int rc = handle(module, instance, request, *response);
        return {rc, std::move(response)};
    }
};

} // namespace

TEST_CASE("a file is answered with status, headers and the file handed over", "[static_plugin]") {
    Static s;
    REQUIRE(s.load("root = \"www\""));
    auto [rc, r] = s.request("GET", "/a.txt");
    CHECK(rc == PROXYD_OK);
    CHECK(r->misuse.empty());
    CHECK(r->finished);
    CHECK(r->status == 200);
    CHECK(r->header("Content-Type") == "text/plain; charset=utf-8");
    CHECK(r->header("Last-Modified").value_or("").ends_with(" GMT"));
    CHECK(r->header("ETag").value_or("").starts_with("\""));
    CHECK(r->file_offset == 0);
    CHECK(r->file_length == 5);
    CHECK(r->file_content() == "hello");
    CHECK(r->body.empty());
}

TEST_CASE("HEAD produces the same response, the core drops the body", "[static_plugin]") {
    Static s;
    REQUIRE(s.load("root = \"www\""));
    auto [rc, r] = s.request("HEAD", "/a.txt");
    CHECK(rc == PROXYD_OK);
    CHECK(r->status == 200);
    CHECK(r->file_length == 5);
    CHECK(r->finished);
}

TEST_CASE("an empty file is finished without a file body", "[static_plugin]") {
    Static s;
    REQUIRE(s.load("root = \"www\""));
    auto [rc, r] = s.request("GET", "/empty.css");
    CHECK(r->status == 200);
    CHECK(r->file_fd == -1);
    CHECK(r->body.empty());
    CHECK(r->finished);
}

TEST_CASE("errors get a small HTML page and the configured headers", "[static_plugin]") {
    Static s;
    REQUIRE(s.load("root = \"www\"\nheaders = { X-Backend = \"web1\", X-Other = \"a b\" }"));
    auto [rc, missing] = s.request("GET", "/nope");
    CHECK(rc == PROXYD_OK);
    CHECK(missing->status == 404);
    CHECK(missing->header("Content-Type") == "text/html; charset=utf-8");
    CHECK_THAT(missing->body, Catch::Contains("404 Not Found"));
    CHECK(missing->header("X-Backend") == "web1");
    CHECK(missing->finished);

    auto [rc2, post] = s.request("POST", "/a.txt");
    CHECK(post->status == 405);
    CHECK(post->header("Allow") == "GET, HEAD");
    CHECK(post->header("X-Backend") == "web1");

    auto [rc3, ok] = s.request("GET", "/a.txt");
    CHECK(ok->header("X-Backend") == "web1");
    CHECK(ok->header("X-Other") == "a b");
    CHECK(ok->header_count("Content-Type") == 1);
}

TEST_CASE("a redirect keeps the path the client sent and the query", "[static_plugin]") {
    Static s;
    REQUIRE(s.load("root = \"www\""));
    auto [rc, plain] = s.request("GET", "/sub?x=1");
    CHECK(plain->status == 301);
    CHECK(plain->header("Location") == "/sub/?x=1");
    // A router stripped "/site" on the way in; the client must come back through it.
    auto [rc2, routed] = s.request("GET", "/site/sub", "/sub");
    CHECK(routed->header("Location") == "/site/sub/");
}

TEST_CASE("root errors name the path and the reason", "[static_plugin]") {
    Static s;
    CHECK_FALSE(s.load("root = \"missing\""));
    REQUIRE(s.host.errors().size() == 1);
    CHECK(s.host.errors()[0].message == "root '" + s.tree.path("missing") + "': No such file or directory");
    CHECK(s.host.errors()[0].line == 1);
    CHECK(s.host.errors()[0].column == 8);

    Static file;
    CHECK_FALSE(file.load("root = \"www/a.txt\""));
    REQUIRE(file.host.errors().size() == 1);
    CHECK(file.host.errors()[0].message == "root '" + file.tree.path("www/a.txt") + "': Not a directory");

    Static none;
    CHECK_FALSE(none.load("index = []"));
    REQUIRE(none.host.errors().size() == 1);
    CHECK_THAT(none.host.errors()[0].message, Catch::Contains("'root' is required"));
}

TEST_CASE("conf.d/mime.toml loads and drives Content-Type", "[static_plugin][mime]") {
    Static s;
    REQUIRE(s.load("root = \"www\"\nmime_types = \"" + kSourceMime + "\"\ndefault_type = \"text/x-other\""));
    INFO(s.host.error_text());
    CHECK(s.request("GET", "/app.MJS").response->header("Content-Type") == "text/javascript; charset=utf-8");
    CHECK(s.request("GET", "/index.html").response->header("Content-Type") == "text/html; charset=utf-8");
    CHECK(s.request("GET", "/sub/page.htm").response->header("Content-Type") == "text/html; charset=utf-8");
    CHECK(s.request("GET", "/noext").response->header("Content-Type") == "text/x-other");
}

TEST_CASE("without a MIME file the built-in table and octet-stream apply", "[static_plugin][mime]") {
    Static s;
    REQUIRE(s.load("root = \"www\""));
    CHECK(s.request("GET", "/index.html").response->header("Content-Type") == "text/html; charset=utf-8");
    CHECK(s.request("GET", "/noext").response->header("Content-Type") == "application/octet-stream");
}

TEST_CASE("MIME file errors name that file's line and column", "[static_plugin][mime]") {
    struct Case {
        const char *content;
        const char *message;
        int line;
    };
    const Case cases[] = {
        {"[types]\nhtml = \"text/html\"\n[extra]\n", "unknown key 'extra'", 3},
        {"[types]\nhtml = 5\n", "'html' must map to a content type string", 2},
        {"[types]\ntar.gz = \"application/gzip\"\n", "'tar' must map to a content type string", 2},
        {"[types]\n\"a/b\" = \"x/y\"\n", "'a/b' is not a file extension", 2},
        {"[types]\nhtml = \"\"\n", "the content type of 'html' must be non-empty", 2},
        {"[types]\nhtml = \"text/html\"\nHTML = \"text/plain\"\n", "is listed twice", 0},
        {"types = 1\n", "'types' must be a table", 1},
        {"[typos]\n", "unknown key 'typos'", 1},
        {"[types\n", "", 1}, // a TOML syntax error, reported by the core
    };
    for (const Case &c : cases) {
        Static s;
        CAPTURE(c.content);
        s.tree.file("mime.toml", c.content);
        CHECK_FALSE(s.load("root = \"www\"\nmime_types = \"mime.toml\""));
        INFO(s.host.error_text());
        REQUIRE_FALSE(s.host.errors().empty());
        const ConfigError &e = s.host.errors()[0];
        CHECK(e.file == s.tree.path("mime.toml"));
        CHECK_THAT(e.message, Catch::Contains(c.message));
        if (c.line) CHECK(e.line == c.line);
    }
    Static missing;
    CHECK_FALSE(missing.load("root = \"www\"\nmime_types = \"nope.toml\""));
    REQUIRE(missing.host.errors().size() == 1);
    CHECK(missing.host.errors()[0].line == 2);
}

TEST_CASE("static config errors are reported at the offending value", "[static_plugin]") {
    struct Case {
        const char *toml;
        const char *message;
        int line;
    };
    const Case cases[] = {
        {"root = \"www\"\nindexes = []", "unknown key 'indexes'", 2},
        {"root = 1", "'root' must be a string", 1},
        {"root = \"\"", "'root' must be a non-empty path", 1},
        {"root = \"www\"\nindex = \"index.html\"", "'index' must be an array of file names", 2},
        {"root = \"www\"\nindex = [1]", "each 'index' entry must be a file name string", 2},
        {"root = \"www\"\nindex = [\"a/index.html\"]", "must be a plain file name", 2},
        {"root = \"www\"\nindex = [\"..\"]", "must be a plain file name", 2},
        {"root = \"www\"\nheaders = [\"X-A: 1\"]", "'headers' must be a table", 2},
        {"root = \"www\"\nheaders = { \"X A\" = \"1\" }", "'X A' is not a valid header name", 2},
        {"root = \"www\"\nheaders = { Content-Length = \"1\" }", "header 'Content-Length' cannot be set here",
         2},
        {"root = \"www\"\nheaders = { content-type = \"x\" }", "header 'content-type' cannot be set here", 2},
        {"root = \"www\"\nheaders = { X-A = 1 }", "header 'X-A' must have a string value", 2},
        {"root = \"www\"\nheaders = { X-A = \"a\\r\\nSet-Cookie: x=1\" }", "control character", 2},
        {"root = \"www\"\ndefault_type = \"\"", "'default_type' must be a content type", 2},
        {"root = \"www\"\ndefault_type = 3", "'default_type' must be a string", 2},
        {"root = \"www\"\nallow_dotfiles = \"yes\"", "'allow_dotfiles' must be a boolean", 2},
        {"root = \"www\"\nmime_types = false", "'mime_types' must be a string", 2},
    };
    for (const Case &c : cases) {
        Static s;
        CAPTURE(c.toml);
        CHECK_FALSE(s.load(c.toml));
        INFO(s.host.error_text());
        REQUIRE(s.host.errors().size() == 1);
        CHECK_THAT(s.host.errors()[0].message, Catch::Contains(c.message));
        CHECK(s.host.errors()[0].line == c.line);
    }
}

TEST_CASE("index and allow_dotfiles change what is served", "[static_plugin]") {
    Static s;
    s.tree.file("www/.well-known/x", "w");
    REQUIRE(s.load("root = \"www\"\nindex = [\"page.htm\"]\nallow_dotfiles = true"));
    CHECK(s.request("GET", "/sub/").response->file_content() == "page");
    CHECK(s.request("GET", "/").response->status == 403);
    CHECK(s.request("GET", "/.well-known/x").response->file_content() == "w");
}

TEST_CASE("ranges, validators and encodings reach the response headers", "[static_plugin][http]") {
    Static s;
    s.tree.file("www/app.js.gz", "GZ");
    REQUIRE(s.load("root = \"www\"\nprecompressed = true\ncache_control = \"no-cache\"\n"
                   "cache_control_by_extension = { txt = \"max-age=60\" }"));
    INFO(s.host.error_text());
    auto ask = [&](const char *target, std::vector<std::pair<std::string, std::string>> headers) {
        FakeRequest request("GET", target, std::move(headers));
        auto response = std::make_unique<FakeResponse>();
        CHECK(handle(s.module, s.instance, request, *response) == PROXYD_OK);
        CHECK(response->misuse.empty());
        return response;
    };
    auto part = ask("/a.txt", {{"Range", "bytes=1-3"}});
    CHECK(part->status == 206);
    CHECK(part->header("Content-Range") == "bytes 1-3/5");
    CHECK(part->header("Accept-Ranges") == "bytes");
    CHECK(part->header("Cache-Control") == "max-age=60");
    CHECK(part->header("Vary") == "Accept-Encoding");
    CHECK(part->file_offset == 1);
    CHECK(part->file_length == 3);
    CHECK(part->file_content() == "ell");

    auto bad = ask("/a.txt", {{"Range", "bytes=9-"}});
    CHECK(bad->status == 416);
    CHECK(bad->header("Content-Range") == "bytes */5");
    CHECK(bad->file_fd == -1);

    std::string etag = ask("/a.txt", {}).get()->header("ETag").value_or("");
    auto same = ask("/a.txt", {{"If-None-Match", etag}});
    CHECK(same->status == 304);
    CHECK_FALSE(same->header("Content-Type"));
    CHECK(same->header("ETag") == etag);
    CHECK(same->header("Cache-Control") == "max-age=60");
    CHECK(same->file_fd == -1);
    CHECK(ask("/a.txt", {{"If-Match", "\"nope\""}})->status == 412);
    // A list header sent as several field lines counts as one list.
    CHECK(ask("/a.txt", {{"If-None-Match", "\"x\""}, {"If-None-Match", etag}})->status == 304);
    CHECK(ask("/a.txt", {{"If-Match", "\"x\""}, {"If-Match", etag}})->status == 200);

    auto gz = ask("/app.MJS", {{"Accept-Encoding", "gzip"}});
    CHECK(gz->header("Content-Encoding") == std::nullopt); // app.MJS has no sibling
    s.tree.file("www/app.MJS.gz", "z");
    auto zipped = ask("/app.MJS", {{"Accept-Encoding", "gzip"}});
    CHECK(zipped->header("Content-Encoding") == "gzip");
    CHECK(zipped->file_content() == "z");
    CHECK(zipped->header("Cache-Control") == "no-cache");
}

TEST_CASE("several ranges are sent as multipart/byteranges, each part from the file",
          "[static_plugin][http]") {
    Static s;
    s.tree.file("www/digits.txt", "0123456789");
    s.tree.file("www/app.js", "console.log('plain')");
    s.tree.file("www/app.js.gz", "GZIPPEDBYTES"); // written after app.js: not older, so not stale
    REQUIRE(s.load("root = \"www\"\nprecompressed = true"));
    auto ask = [&](const char *target, std::vector<std::pair<std::string, std::string>> headers) {
        FakeRequest request("GET", target, std::move(headers));
        auto response = std::make_unique<FakeResponse>();
        CHECK(handle(s.module, s.instance, request, *response) == PROXYD_OK);
        CHECK(response->misuse.empty());
        CHECK(response->finished);
        return response;
    };
    auto parts = ask("/digits.txt", {{"Range", "bytes=8-,0-1"}});
    CHECK(parts->status == 206);
    std::string type = parts->header("Content-Type").value_or("");
    REQUIRE(type.starts_with("multipart/byteranges; boundary="));
    std::string boundary = type.substr(type.find('=') + 1);
    CHECK(boundary.size() == 20);
    CHECK_FALSE(parts->header("Content-Range"));
    CHECK(parts->header("Accept-Ranges") == "bytes");
    CHECK(parts->header("ETag"));
    // Each range's bytes are a file range of its own, never copied into the body, all from the
    // one descriptor (a slow reader of many parts holds one file open).
    std::set<int> descriptors;
    size_t files = 0;
    for (const FakeResponse::BodyPart &part : parts->parts)
        if (part.fd >= 0) {
            ++files;
            descriptors.insert(part.fd);
        }
    CHECK(files == 2);
    CHECK(descriptors.size() == 1);
    CHECK(parts->content() ==
          "--" + boundary +
              "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 8-9/10\r\n\r\n89"
              "\r\n--" +
              boundary +
              "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/10\r\n\r\n01"
              "\r\n--" +
              boundary + "--\r\n");
    // Every response gets its own boundary.
    std::string again = ask("/digits.txt", {{"Range", "bytes=8-,0-1"}})->header("Content-Type").value_or("");
    CHECK(again != type);

    // A precompressed sibling: the parts are ranges of it and say so; the multipart body itself
    // has no Content-Encoding.
    auto coded = ask("/app.js", {{"Range", "bytes=0-1,-2"}, {"Accept-Encoding", "gzip"}});
    CHECK(coded->status == 206);
    CHECK_FALSE(coded->header("Content-Encoding"));
    CHECK(coded->header("Vary") == "Accept-Encoding");
    CHECK_THAT(coded->content(),
               Catch::Contains("Content-Encoding: gzip\r\nContent-Range: bytes 0-1/12\r\n\r\nGZ\r\n"));
    CHECK_THAT(coded->content(), Catch::Contains("Content-Range: bytes 10-11/12\r\n\r\nES\r\n"));

    Static one;
    REQUIRE(one.load("root = \"www\"\nmax_ranges = 1"));
    one.tree.file("www/digits.txt", "0123456789");
    CHECK(one.request("GET", "/digits.txt").response->status == 200);
    FakeRequest two_ranges("GET", "/digits.txt", {{"Range", "bytes=0-0,2-2"}});
    FakeResponse whole;
    CHECK(handle(one.module, one.instance, two_ranges, whole) == PROXYD_OK);
    CHECK(whole.status == 200);
    CHECK(whole.content() == "0123456789");

    // max_ranges = 0 ignores Range, and does not offer it.
    Static none;
    REQUIRE(none.load("root = \"www\"\nmax_ranges = 0"));
    none.tree.file("www/digits.txt", "0123456789");
    FakeRequest one_range("GET", "/digits.txt", {{"Range", "bytes=0-0"}});
    FakeResponse ignored;
    CHECK(handle(none.module, none.instance, one_range, ignored) == PROXYD_OK);
    CHECK(ignored.status == 200);
    CHECK_FALSE(ignored.header("Accept-Ranges"));
    CHECK(one.request("GET", "/digits.txt").response->header("Accept-Ranges") == "bytes");
}

TEST_CASE("the new keys are validated", "[static_plugin]") {
    struct Case {
        const char *toml;
        const char *message;
    };
    const Case cases[] = {
        {"root = \"www\"\nautoindex = 1", "'autoindex' must be a boolean"},
        {"root = \"www\"\nprecompressed = \"yes\"", "'precompressed' must be a boolean"},
        {"root = \"www\"\nsymlinks = \"sometimes\"", "'symlinks' must be \"inside_root\""},
        {"root = \"www\"\ncache_control = \"a\\nb\"", "'cache_control' must be a header value"},
        {"root = \"www\"\ncache_control_by_extension = \"x\"",
         "'cache_control_by_extension' must be a table"},
        {"root = \"www\"\ncache_control_by_extension = { \".css\" = \"x\" }",
         "'.css' is not a file extension"},
        {"root = \"www\"\ncache_control_by_extension = { css = 1 }", "Cache-Control of 'css' must be"},
        {"root = \"www\"\nheaders = { Cache-Control = \"x\" }", "header 'Cache-Control' cannot be set here"},
        {"root = \"www\"\nheaders = { Vary = \"x\" }", "header 'Vary' cannot be set here"},
        {"root = \"www\"\netag = \"md5\"", "'etag' must be \"mtime-size\""},
        {"root = \"www\"\netag_hash_max_size = -1", "'etag_hash_max_size' must be a size in bytes"},
        {"root = \"www\"\nmax_ranges = -1", "'max_ranges' must be 0 (Range ignored) to 1024"},
        {"root = \"www\"\nmax_ranges = 5000", "'max_ranges' must be 0 (Range ignored) to 1024"},
        {"root = \"www\"\nmax_ranges = \"16\"", "'max_ranges' must be an integer"},
    };
    for (const Case &c : cases) {
        Static s;
        CAPTURE(c.toml);
        CHECK_FALSE(s.load(c.toml));
        INFO(s.host.error_text());
        REQUIRE(s.host.errors().size() == 1);
        CHECK_THAT(s.host.errors()[0].message, Catch::Contains(c.message));
        CHECK(s.host.errors()[0].line == 2);
    }
    Static ok;
    REQUIRE(ok.load("root = \"www\"\nsymlinks = \"never\"\nautoindex = true\netag = \"content-hash\"\n"
                    "etag_hash_max_size = 1000"));
    CHECK(ok.request("GET", "/a.txt").response->header("ETag").value_or("").starts_with("\"h-"));
    auto listing = ok.request("GET", "/sub/").response; // no index.html there: the listing
    CHECK(listing->status == 200);
    CHECK_THAT(listing->body, Catch::Contains(">page.htm</a>"));
}
