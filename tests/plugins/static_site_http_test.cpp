// content/static: validators, conditional requests, ranges, precompressed siblings, listings,
// the symlink policy and Cache-Control, against a real folder.
#include "http_text.hpp"
#include "static_site.hpp"
#include "temp_tree.hpp"

#include <catch2/catch.hpp>
#include <ctime>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <sys/time.h>

using namespace proxyd::static_files;
using proxyd::test::TempTree;

namespace {

void set_mtime(const std::string &path, int64_t seconds) {
    struct timeval times[2] = {{seconds, 0}, {seconds, 0}};
    REQUIRE(utimes(path.c_str(), times) == 0);
}

struct Site {
    TempTree tree;
    StaticSite site;

    explicit Site(SiteOptions options = {}, bool fallback = false)
        : site(build(tree, std::move(options), fallback)) {}

    static SiteOptions build(const TempTree &tree, SiteOptions options, bool fallback) {
        tree.file("www/digits.txt", "0123456789");
        tree.file("www/app.js", "console.log('plain')");
        tree.file("www/app.js.gz", "GZ");
        tree.file("www/app.js.br", "BR");
        tree.file("www/old.css", "body{}");
        tree.file("www/old.css.gz", "stale");
        tree.file("www/list/b.txt", "b");
        tree.file("www/list/a <&>.txt", "a");
        tree.file("www/list/.hidden", "h");
        tree.dir("www/list/zdir");
        tree.file("outside/secret.txt", "s");
        tree.symlink("digits.txt", "www/alias.txt");
        // Files dated long ago have strong tags; one written under two seconds old has a weak
        // tag (see "a file under two seconds old...").
        set_mtime(tree.path("www/digits.txt"), 1600000000);
        set_mtime(tree.path("www/app.js"), 1600000000);
        set_mtime(tree.path("www/app.js.gz"), 1600000100);
        set_mtime(tree.path("www/app.js.br"), 1600000100);
        set_mtime(tree.path("www/old.css"), 1600000100);
        set_mtime(tree.path("www/old.css.gz"), 1600000000);
        REQUIRE(options.root.open(tree.path("www"), fallback, options.root.symlinks()) == 0);
        return options;
    }

    StaticReply get(std::string_view path, ConditionalHeaders headers = {},
                    std::string_view method = "GET") const {
        return site.serve(method, path, path, "", headers);
    }
};

std::string sent(const StaticReply &reply) {
    std::string content(reply.file_length, '\0');
    ssize_t n =
        pread(reply.file.get(), content.data(), content.size(), static_cast<off_t>(reply.file_offset));
    return std::string(content.data(), n > 0 ? static_cast<size_t>(n) : 0);
}

SiteOptions with_symlinks(RootDirectory::Symlinks policy) {
    SiteOptions options;
    // The policy is taken over by Site::build's open().
    TempTree scratch;
    REQUIRE(options.root.open(scratch.path(), false, policy) == 0);
    return options;
}

} // namespace

TEST_CASE("file responses carry validators and Accept-Ranges", "[static][http]") {
    Site s;
    StaticReply r = s.get("/digits.txt");
    REQUIRE(r.status == 200);
    CHECK(r.accept_ranges);
    CHECK(r.etag.starts_with('"'));
    CHECK(r.last_modified.ends_with("GMT"));
    CHECK(r.file_offset == 0);
    CHECK(r.file_length == 10);
    CHECK(sent(r) == "0123456789");
    CHECK_FALSE(r.vary_accept_encoding);
    CHECK(r.cache_control.empty());
}

TEST_CASE("conditional GET: 304 without type or body, 412 for failed preconditions", "[static][http]") {
    Site s;
    StaticReply first = s.get("/digits.txt");
    StaticReply same = s.get("/digits.txt", {.if_none_match = first.etag});
    CHECK(same.status == 304);
    CHECK(same.content_type.empty());
    CHECK_FALSE(same.file.valid());
    CHECK(same.body.empty());
    CHECK(same.etag == first.etag);
    CHECK(s.get("/digits.txt", {.if_modified_since = first.last_modified}).status == 304);
    CHECK(s.get("/digits.txt", {.if_none_match = "\"x\"", .if_modified_since = first.last_modified}).status ==
          200);
    CHECK(s.get("/digits.txt", {.if_none_match = first.etag}, "HEAD").status == 304);

    StaticReply failed = s.get("/digits.txt", {.if_match = "\"x\""});
    CHECK(failed.status == 412);
    CHECK_FALSE(failed.file.valid());
    CHECK(failed.body.find("412") != std::string::npos);
    CHECK(s.get("/digits.txt", {.if_match = first.etag}).status == 200);
    CHECK(s.get("/digits.txt", {.if_unmodified_since = "Sun, 06 Nov 1994 08:49:37 GMT"}).status == 412);
    // Conditions apply to the file an index request serves, not to missing files.
    CHECK(s.get("/nope", {.if_match = "\"x\""}).status == 404);
}

TEST_CASE("a modification time in the future is sent as the response's time", "[static][http]") {
    Site s;
    // 2100-01-01: RFC 9110 §8.8.2.1, Last-Modified must not be later than the response's Date.
    constexpr int64_t kFuture = 4102444800;
    set_mtime(s.tree.path("www/digits.txt"), kFuture);
    const int64_t before = std::time(nullptr);
    StaticReply r = s.get("/digits.txt");
    const int64_t after = std::time(nullptr);
    REQUIRE(r.status == 200);
    std::optional<int64_t> sent_date = parse_http_date(r.last_modified);
    REQUIRE(sent_date);
    CHECK(*sent_date >= before);
    CHECK(*sent_date <= after);
    // The ETag still names the file's own time (weak, as a time to come is no strong validator);
    // the dates compare with the time sent.
    CHECK(r.etag == "W/" + format_etag(kFuture, 10));
    CHECK(s.get("/digits.txt", {.if_none_match = r.etag}).status == 304);
    // Not modified since the time sent: the file's own time (2100) would say it was.
    CHECK(s.get("/digits.txt", {.if_modified_since = format_http_date(after + 1)}).status == 304);
    CHECK(s.get("/digits.txt", {.if_unmodified_since = format_http_date(after + 60)}).status == 200);
    // A past time is sent as it is.
    set_mtime(s.tree.path("www/digits.txt"), 1600000000);
    CHECK(s.get("/digits.txt").last_modified == format_http_date(1600000000));
}

TEST_CASE("a file under two seconds old has a weak ETag and no strong date", "[static][http]") {
    Site s;
    const int64_t now = std::time(nullptr);
    // RFC 9110 §8.8.1-8.8.2.2: rewritten again within the same second at the same size, the file
    // would keep its "<mtime>-<size>" tag; a strong tag would let If-Range splice two versions.
    for (int64_t age : {int64_t{0}, int64_t{-3600}}) { // now, and an hour ahead
        CAPTURE(age);
        set_mtime(s.tree.path("www/digits.txt"), now - age);
        StaticReply young = s.get("/digits.txt");
        CHECK(young.etag == "W/" + format_etag(now - age, 10));
        // A cache still revalidates (weak comparison); strong uses refuse it.
        CHECK(s.get("/digits.txt", {.if_none_match = young.etag}).status == 304);
        CHECK(s.get("/digits.txt", {.if_match = young.etag}).status == 412);
        CHECK(s.get("/digits.txt", {.if_match = "*"}).status == 200);
        StaticReply by_tag = s.get("/digits.txt", {.range = "bytes=0-0", .if_range = young.etag});
        CHECK(by_tag.status == 200);
        CHECK(by_tag.file_length == 10);
        CHECK(s.get("/digits.txt", {.range = "bytes=0-0", .if_range = young.last_modified}).status == 200);
        CHECK(s.get("/digits.txt", {.range = "bytes=0-0"}).status == 206);
    }
    // Two seconds old: strong again, and If-Range holds by tag and by date.
    set_mtime(s.tree.path("www/digits.txt"), now - 2);
    StaticReply settled = s.get("/digits.txt");
    CHECK(settled.etag == format_etag(now - 2, 10));
    CHECK(s.get("/digits.txt", {.range = "bytes=0-0", .if_range = settled.etag}).status == 206);
    CHECK(s.get("/digits.txt", {.range = "bytes=0-0", .if_range = settled.last_modified}).status == 206);
    CHECK(s.get("/digits.txt", {.if_match = settled.etag}).status == 200);

    // A content hash names the bytes themselves: strong however young the file.
    SiteOptions options;
    options.etag_mode = SiteOptions::EtagMode::ContentHash;
    Site hashed(std::move(options));
    set_mtime(hashed.tree.path("www/digits.txt"), now);
    StaticReply r = hashed.get("/digits.txt");
    CHECK(r.etag.starts_with("\"h-"));
    CHECK(hashed.get("/digits.txt", {.range = "bytes=0-0", .if_range = r.etag}).status == 206);
    // ... but its date is no strong validator yet.
    CHECK(hashed.get("/digits.txt", {.range = "bytes=0-0", .if_range = r.last_modified}).status == 200);
}

TEST_CASE("Range: 206 with the exact slice, 416 with the size, If-Range", "[static][http]") {
    Site s;
    StaticReply part = s.get("/digits.txt", {.range = "bytes=2-4"});
    REQUIRE(part.status == 206);
    CHECK(part.content_range == "bytes 2-4/10");
    CHECK(sent(part) == "234");
    CHECK(sent(s.get("/digits.txt", {.range = "bytes=-3"})) == "789");
    CHECK(sent(s.get("/digits.txt", {.range = "bytes=7-"})) == "789");

    StaticReply beyond = s.get("/digits.txt", {.range = "bytes=10-"});
    CHECK(beyond.status == 416);
    CHECK(beyond.content_range == "bytes */10");
    CHECK_FALSE(beyond.file.valid());

    // Several ranges: a 206 whose ranges the sender frames as multipart/byteranges.
    StaticReply several = s.get("/digits.txt", {.range = "bytes=7-,0-1"});
    REQUIRE(several.status == 206);
    REQUIRE(several.ranges.size() == 2);
    CHECK(several.ranges[0].offset == 7);
    CHECK(several.ranges[0].length == 3);
    CHECK(several.ranges[1].offset == 0);
    CHECK(several.ranges[1].length == 2);
    CHECK(several.content_range.empty());
    CHECK(several.file.valid());
    CHECK(several.file_size == 10);
    // One satisfiable range among several: a plain 206.
    StaticReply one = s.get("/digits.txt", {.range = "bytes=50-,1-2"});
    CHECK(one.status == 206);
    CHECK(one.ranges.empty());
    CHECK(one.content_range == "bytes 1-2/10");
    // Overlaps adding up to more than the file, or more ranges than max_ranges: the whole file.
    CHECK(s.get("/digits.txt", {.range = "bytes=0-5,3-9"}).status == 200);
    CHECK(s.get("/digits.txt", {.range = "bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9"}).status == 206);
    SiteOptions two;
    two.max_ranges = 2;
    Site bounded(std::move(two));
    CHECK(bounded.get("/digits.txt", {.range = "bytes=0-0,2-2"}).status == 206);
    StaticReply bounded_whole = bounded.get("/digits.txt", {.range = "bytes=0-0,2-2,4-4"});
    CHECK(bounded_whole.status == 200);
    CHECK(bounded_whole.file_length == 10);
    // A failed If-Range, or HEAD, ignores several ranges as it ignores one.
    CHECK(s.get("/digits.txt", {.range = "bytes=0-0,2-2", .if_range = "\"old\""}).status == 200);
    CHECK(s.get("/digits.txt", {.range = "bytes=0-0,2-2"}, "HEAD").status == 200);
    CHECK(s.get("/digits.txt", {.range = "bytes=x"}).status == 416);
    CHECK(s.get("/digits.txt", {.range = "lines=1-2"}).status == 200);

    const StaticReply whole = s.get("/digits.txt");
    CHECK(s.get("/digits.txt", {.range = "bytes=0-0", .if_range = whole.etag}).status == 206);
    CHECK(s.get("/digits.txt", {.range = "bytes=0-0", .if_range = whole.last_modified}).status == 206);
    CHECK(s.get("/digits.txt", {.range = "bytes=0-0", .if_range = "\"old\""}).status == 200);
    CHECK(s.get("/digits.txt", {.range = "bytes=0-0", .if_range = "Sun, 06 Nov 1994 08:49:37 GMT"}).status ==
          200);
    // A failed If-Range also keeps a bad range from turning into 416.
    CHECK(s.get("/digits.txt", {.range = "bytes=50-", .if_range = "\"old\""}).status == 200);
    // HEAD: Range is defined for GET only.
    CHECK(s.get("/digits.txt", {.range = "bytes=2-4"}, "HEAD").status == 200);
    // Validators are checked before the range.
    CHECK(s.get("/digits.txt", {.if_none_match = whole.etag, .range = "bytes=2-4"}).status == 304);
}

TEST_CASE("precompressed siblings: chosen by Accept-Encoding, own ETag, never stale", "[static][http]") {
    SiteOptions options;
    options.precompressed = true;
    Site s(std::move(options));
    StaticReply plain = s.get("/app.js");
    CHECK(plain.content_encoding.empty());
    CHECK(plain.vary_accept_encoding);
    CHECK(sent(plain) == "console.log('plain')");

    StaticReply br = s.get("/app.js", {.accept_encoding = "gzip, br"});
    CHECK(br.content_encoding == "br");
    CHECK(br.content_type == "text/javascript; charset=utf-8");
    CHECK(sent(br) == "BR");
    CHECK(br.vary_accept_encoding);
    CHECK(br.etag != plain.etag);
    CHECK(br.etag.ends_with("-br\""));

    StaticReply gz = s.get("/app.js", {.accept_encoding = "gzip"});
    CHECK(gz.content_encoding == "gzip");
    CHECK(sent(gz) == "GZ");
    CHECK(gz.etag != br.etag);
    // Validators and ranges work on the variant that is sent.
    CHECK(s.get("/app.js", {.if_none_match = gz.etag, .accept_encoding = "gzip"}).status == 304);
    CHECK(s.get("/app.js", {.if_none_match = gz.etag, .accept_encoding = "br"}).status == 200);
    StaticReply slice = s.get("/app.js", {.range = "bytes=1-", .accept_encoding = "gzip"});
    CHECK(slice.status == 206);
    CHECK(slice.content_range == "bytes 1-1/2");

    CHECK(s.get("/app.js", {.accept_encoding = "identity"}).content_encoding.empty());
    // old.css.gz is older than old.css: it would be stale.
    CHECK(s.get("/old.css", {.accept_encoding = "gzip"}).content_encoding.empty());

    Site off;
    CHECK(off.get("/app.js", {.accept_encoding = "gzip, br"}).content_encoding.empty());
    CHECK_FALSE(off.get("/app.js").vary_accept_encoding);
}

TEST_CASE("autoindex lists a folder sorted and escaped, hides dotfiles, off by default", "[static][http]") {
    Site quiet;
    CHECK(quiet.get("/list/").status == 403);

    SiteOptions options;
    options.autoindex = true;
    Site s(std::move(options));
    StaticReply page = s.get("/list/");
    REQUIRE(page.status == 200);
    CHECK(page.content_type == kHtmlType);
    size_t a = page.body.find("a &lt;&amp;&gt;.txt");
    size_t b = page.body.find(">b.txt<");
    size_t z = page.body.find(">zdir/<");
    CHECK(a != std::string::npos);
    CHECK(a < b);
    CHECK(b < z);
    CHECK(page.body.find("href=\"./a%20%3C%26%3E.txt\"") != std::string::npos);
    CHECK(page.body.find(".hidden") == std::string::npos);
    CHECK(page.body.find("Index of /list/") != std::string::npos);
    CHECK(s.get("/list", {}).status == 301);
    CHECK(s.get("/list/", {}, "HEAD").status == 200);
}

TEST_CASE("symlinks = never refuses every link, the default follows those inside", "[static][http]") {
    for (bool fallback : {false, true}) {
        CAPTURE(fallback);
        Site inside({}, fallback);
        CHECK(sent(inside.get("/alias.txt")) == "0123456789");
        Site never(with_symlinks(RootDirectory::Symlinks::Never), fallback);
        CHECK(never.get("/alias.txt").status == 403);
        CHECK(never.get("/digits.txt").status == 200);
        CHECK(never.get("/list/b.txt").status == 200);
    }
}

TEST_CASE("Cache-Control by extension, else the handler's value, on file responses only", "[static][http]") {
    SiteOptions options;
    options.cache_control = "no-cache";
    options.cache_control_by_extension.add("JS", "public, max-age=31536000, immutable");
    Site s(std::move(options));
    CHECK(s.get("/app.js").cache_control == "public, max-age=31536000, immutable");
    CHECK(s.get("/digits.txt").cache_control == "no-cache");
    const StaticReply whole = s.get("/digits.txt");
    CHECK(s.get("/digits.txt", {.if_none_match = whole.etag}).cache_control == "no-cache");
    CHECK(s.get("/nope.js").cache_control.empty());
}

TEST_CASE("etag = content-hash: tags follow the bytes, cached per file version", "[static][http]") {
    SiteOptions options;
    options.etag_mode = SiteOptions::EtagMode::ContentHash;
    options.etag_hash_max_size = 100;
    Site s(std::move(options));
    HashCache hashes;
    auto get = [&](std::string_view path, ConditionalHeaders headers = {}) {
        return s.site.serve("GET", path, path, "", headers, &hashes);
    };
    StaticReply first = get("/digits.txt");
    CHECK(first.etag == format_hash_etag(*hash_file(first.file.get(), 10)));
    CHECK(first.etag.starts_with("\"h-"));
    CHECK(hashes.size() == 1);
    CHECK(get("/digits.txt").etag == first.etag);
    CHECK(hashes.size() == 1);
    CHECK(get("/digits.txt", {.if_none_match = first.etag}).status == 304);

    // Same size, same mtime, other bytes: an mtime-size tag would not change, this one does.
    struct stat before {};
    REQUIRE(stat(s.tree.path("www/digits.txt").c_str(), &before) == 0);
    s.tree.file("www/digits.txt", "9876543210");
    set_mtime(s.tree.path("www/digits.txt"), before.st_mtim.tv_sec);
    StaticReply changed = get("/digits.txt");
    CHECK(changed.etag != first.etag);
    CHECK(sent(changed) == "9876543210");

    // Over etag_hash_max_size: mtime-size, nothing read.
    s.tree.file("www/big.txt", std::string(101, 'x'));
    CHECK_FALSE(get("/big.txt").etag.starts_with("\"h-"));
    CHECK(s.site.serve("GET", "/app.js", "/app.js", "").etag.starts_with("\"h-")); // no cache: hashed anyway
}

TEST_CASE("the hash cache forgets everything when full", "[static][http]") {
    HashCache cache;
    struct stat st {};
    for (size_t i = 0; i < HashCache::kMaxEntries; ++i) {
        st.st_ino = i;
        cache.store(st, i);
    }
    CHECK(cache.size() == HashCache::kMaxEntries);
    st.st_ino = 3;
    CHECK(cache.find(st) == 3u);
    st.st_ino = HashCache::kMaxEntries;
    cache.store(st, 1);
    CHECK(cache.size() == 1);
}
