// content/static: what a client gets back for a request, against a real folder, in both the
// openat2 mode and the realpath fallback.
#include "http_text.hpp"
#include "static_site.hpp"
#include "temp_tree.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <string>
#include <sys/stat.h>
#include <sys/time.h>

using namespace proxyd::static_files;
using proxyd::test::TempTree;

namespace {

// www/ is the root; outside/ sits beside it and must never be served.
struct Site {
    TempTree tree;
    StaticSite site;

    explicit Site(bool fallback = false, SiteOptions options = {})
        : site(build(tree, fallback, std::move(options))) {}

    static SiteOptions build(const TempTree &tree, bool fallback, SiteOptions options) {
        tree.file("www/index.html", "<h1>home</h1>");
        tree.file("www/a.txt", "hello");
        tree.file("www/PHOTO.JPG", "jpeg");
        tree.file("www/noext", "data");
        tree.file("www/empty.txt", "");
        tree.file("www/docs/index.html", "docs");
        tree.dir("www/sub");
        tree.file("www/.secret", "s");
        tree.file("www/.git/config", "c");
        tree.file("www/back\\slash.txt", "b");
        tree.file("outside/secret.txt", "top secret");
        tree.symlink("../outside/secret.txt", "www/escape");
        tree.symlink(tree.path("outside"), "www/escape_dir");
        tree.symlink("a.txt", "www/alias.txt");
        tree.fifo("www/pipe");
        REQUIRE(options.root.open(tree.path("www"), fallback) == 0);
        return options;
    }

    StaticReply get(std::string_view path, std::string_view query = "") const {
        return site.serve("GET", path, path, query);
    }
};

std::string read_all(const StaticReply &reply) {
    std::string content(reply.file_size, '\0');
    ssize_t n = pread(reply.file.get(), content.data(), content.size(), 0);
    return std::string(content.data(), n > 0 ? static_cast<size_t>(n) : 0);
}

} // namespace

TEST_CASE("a regular file is served with type, size, Last-Modified and ETag", "[static][site]") {
    Site s;
    // Dated well before now: a file under two seconds old gets a weak tag
    // (static_site_http_test.cpp).
    struct timeval old_times[2] = {{1600000000, 0}, {1600000000, 0}};
    REQUIRE(utimes(s.tree.path("www/a.txt").c_str(), old_times) == 0);
    StaticReply reply = s.get("/a.txt");
    REQUIRE(reply.status == 200);
    CHECK(reply.content_type == "text/plain; charset=utf-8");
    CHECK(reply.file_size == 5);
    CHECK(read_all(reply) == "hello");
    struct stat st {};
    REQUIRE(stat(s.tree.path("www/a.txt").c_str(), &st) == 0);
    CHECK(reply.last_modified == format_http_date(st.st_mtim.tv_sec));
    CHECK(reply.etag == format_etag(st.st_mtim.tv_sec, 5));
    CHECK(reply.body.empty());
}

TEST_CASE("HEAD takes the same path as GET", "[static][site]") {
    Site s;
    StaticReply reply = s.site.serve("HEAD", "/a.txt", "/a.txt", "");
    CHECK(reply.status == 200);
    CHECK(reply.file.valid());
    CHECK(reply.file_size == 5);
}

TEST_CASE("methods other than GET and HEAD get 405 with Allow", "[static][site]") {
    Site s;
    for (const char *method : {"POST", "PUT", "DELETE", "get", "OPTIONS"}) {
        StaticReply reply = s.site.serve(method, "/a.txt", "/a.txt", "");
        CHECK(reply.status == 405);
        CHECK(reply.allow_header);
        CHECK(reply.content_type == kHtmlType);
        CHECK(reply.body.find("405 Method Not Allowed") != std::string_view::npos);
        CHECK_FALSE(reply.file.valid());
    }
}

TEST_CASE("types come from the extension, else the default type", "[static][site]") {
    SiteOptions options;
    options.default_type = "text/x-unknown";
    Site s(false, std::move(options));
    CHECK(s.get("/PHOTO.JPG").content_type == "image/jpeg");
    CHECK(s.get("/noext").content_type == "text/x-unknown");
    CHECK(s.get("/index.html").content_type == "text/html; charset=utf-8");
}

TEST_CASE("an empty file is a 200 with size 0", "[static][site]") {
    Site s;
    StaticReply reply = s.get("/empty.txt");
    CHECK(reply.status == 200);
    CHECK(reply.file_size == 0);
}

TEST_CASE("a directory without its trailing slash is redirected", "[static][site]") {
    Site s;
    StaticReply reply = s.get("/sub");
    CHECK(reply.status == 301);
    CHECK(reply.location == "/sub/");
    CHECK(reply.content_type == kHtmlType);
    CHECK(s.get("/docs", "lang=en").location == "/docs/?lang=en");
    // Built from what the client sent, not from a path a router rewrote.
    CHECK(s.site.serve("GET", "/docs", "/static/docs", "").location == "/static/docs/");
}

TEST_CASE("a redirect never points to another host", "[static][site]") {
    Site s;
    s.tree.dir("www/evil.com");
    CHECK(s.get("//evil.com").location == "/evil.com/");
    CHECK(s.site.serve("GET", "/evil.com", "/\\evil.com", "").location == "/evil.com/");
    CHECK(s.site.serve("GET", "/evil.com", "///evil.com", "").location == "/evil.com/");
}

TEST_CASE("a directory with a slash serves its index, or 403 without one", "[static][site]") {
    Site s;
    StaticReply root = s.get("/");
    REQUIRE(root.status == 200);
    CHECK(read_all(root) == "<h1>home</h1>");
    CHECK(root.content_type == "text/html; charset=utf-8");
    CHECK(read_all(s.get("/docs/")) == "docs");
    CHECK(s.get("/sub/").status == 403);
}

TEST_CASE("the index list is tried in order", "[static][site]") {
    SiteOptions options;
    options.index = {"missing.html", "a.txt"};
    Site s(false, std::move(options));
    StaticReply reply = s.get("/");
    REQUIRE(reply.status == 200);
    CHECK(read_all(reply) == "hello");
    CHECK(reply.content_type == "text/plain; charset=utf-8");
}

TEST_CASE("missing files are 404", "[static][site]") {
    Site s;
    StaticReply reply = s.get("/nope.html");
    CHECK(reply.status == 404);
    CHECK(reply.content_type == kHtmlType);
    CHECK(reply.body.find("404 Not Found") != std::string_view::npos);
    CHECK(s.get("/nope/deeper").status == 404);
    // A file used as a folder.
    CHECK(s.get("/a.txt/").status == 404);
    CHECK(s.get("/a.txt/x").status == 404);
}

TEST_CASE("bad paths are 400", "[static][site]") {
    Site s;
    CHECK(s.get("/../outside/secret.txt").status == 400);
    CHECK(s.get("/%2e%2e/outside/secret.txt").status == 400);
    CHECK(s.get("/a%zz").status == 400);
    CHECK(s.get("/a.txt%00.html").status == 400);
    CHECK(s.get("*").status == 400);
}

TEST_CASE("normalised paths reach the file", "[static][site]") {
    Site s;
    CHECK(read_all(s.get("/sub/../a.txt")) == "hello");
    CHECK(read_all(s.get("//a.txt")) == "hello");
    CHECK(read_all(s.get("/%61.txt")) == "hello");
    CHECK(read_all(s.get("/back\\slash.txt")) == "b");
}

TEST_CASE("dotfiles are hidden unless allowed", "[static][site]") {
    Site hidden;
    CHECK(hidden.get("/.secret").status == 404);
    CHECK(hidden.get("/.git/config").status == 404);
    CHECK(hidden.get("/%2egit/config").status == 404);
    SiteOptions options;
    options.allow_dotfiles = true;
    Site shown(false, std::move(options));
    CHECK(read_all(shown.get("/.secret")) == "s");
    CHECK(read_all(shown.get("/.git/config")) == "c");
}

TEST_CASE("nothing outside the root is reachable, even through symlinks", "[static][site]") {
    for (bool fallback : {false, true}) {
        CAPTURE(fallback);
        Site s(fallback);
        CHECK(s.site.options().root.mode() ==
              (fallback ? RootDirectory::Mode::Realpath : RootDirectory::Mode::Openat2));
        CHECK(s.get("/escape").status == 403);
        CHECK(s.get("/escape_dir/secret.txt").status == 403);
        // A symlink that stays inside is fine.
        CHECK(read_all(s.get("/alias.txt")) == "hello");
    }
}

TEST_CASE("a FIFO under the root is not served and does not block", "[static][site]") {
    for (bool fallback : {false, true}) {
        Site s(fallback);
        CHECK(s.get("/pipe").status == 404);
    }
}

TEST_CASE("a file the server may not read is 403", "[static][site]") {
    if (geteuid() == 0) {
        WARN("running as root: permission bits do not apply, skipped");
        return;
    }
    Site s;
    REQUIRE(chmod(s.tree.path("www/a.txt").c_str(), 0) == 0);
    CHECK(s.get("/a.txt").status == 403);
}

TEST_CASE("a root must exist and be a directory", "[static][site]") {
    TempTree tree;
    tree.file("file", "x");
    RootDirectory root;
    CHECK(root.open(tree.path("missing")) == ENOENT);
    CHECK(root.open(tree.path("file")) == ENOTDIR);
    CHECK(root.open(tree.path()) == 0);
}

TEST_CASE("the client's path is recovered from the request target", "[static][site]") {
    CHECK(client_path("/images/sub?x=1", "/sub") == "/images/sub");
    CHECK(client_path("/images/sub", "/sub") == "/images/sub");
    CHECK(client_path("http://example.com/a/b?q", "/a/b") == "/a/b");
    CHECK(client_path("http://example.com", "/") == "/");
    CHECK(client_path("*", "*") == "*");
}
