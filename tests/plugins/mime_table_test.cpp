// content/static: the MIME table and the small HTTP helpers.
#include "http_text.hpp"
#include "mime_table.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace proxyd::static_files;

TEST_CASE("the extension is matched case-insensitively", "[static][mime]") {
    MimeTable table = MimeTable::builtin();
    CHECK(table.lookup("/index.html") == "text/html; charset=utf-8");
    CHECK(table.lookup("/PHOTO.JPG") == "image/jpeg");
    CHECK(table.lookup("/a/b/Report.Pdf") == "application/pdf");
    CHECK(table.lookup("style.css") == "text/css; charset=utf-8");
}

TEST_CASE("the built-in table covers the common web types", "[static][mime]") {
    MimeTable table = MimeTable::builtin();
    for (const char *ext :
         {"html", "css",  "js",   "mjs", "json", "txt",  "xml",   "svg", "png",  "jpg", "jpeg",
          "gif",  "webp", "avif", "ico", "pdf",  "wasm", "woff2", "mp4", "webm", "zip"}) {
        CAPTURE(ext);
        std::string_view type = table.lookup(std::string("f.") + ext);
        CHECK_FALSE(type.empty());
        const bool text =
            type.starts_with("text/") || type.find("json") != type.npos || type.find("xml") != type.npos;
        CHECK(text == type.ends_with("; charset=utf-8"));
    }
}

TEST_CASE("no extension, or an unknown one, finds nothing", "[static][mime]") {
    MimeTable table = MimeTable::builtin();
    CHECK(table.lookup("/README").empty());
    CHECK(table.lookup("/file.").empty());
    CHECK(table.lookup("/file.unknownext").empty());
    // A leading dot starts a hidden name, not an extension.
    CHECK(table.lookup("/.html").empty());
    // Only the last segment counts.
    CHECK(table.lookup("/site.html/data").empty());
    CHECK(table.lookup("/dir/").empty());
    // The last extension decides.
    CHECK(table.lookup("/page.html.bak").empty());
    CHECK(table.lookup("/").empty());
    CHECK(table.lookup("").empty());
}

TEST_CASE("extensions are unique regardless of case", "[static][mime]") {
    MimeTable table;
    CHECK(table.add("HTML", "text/html"));
    CHECK_FALSE(table.add("html", "text/plain"));
    CHECK(table.size() == 1);
    CHECK(table.lookup("/x.html") == "text/html");
    CHECK(table.lookup("/x.HtMl") == "text/html");
}

TEST_CASE("an over-long extension does not overflow the lookup", "[static][mime]") {
    MimeTable table = MimeTable::builtin();
    CHECK(table.lookup("/x." + std::string(200, 'a')).empty());
}

TEST_CASE("Last-Modified is an IMF-fixdate", "[static][http]") {
    CHECK(format_http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK(format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(format_http_date(1709251199) == "Thu, 29 Feb 2024 23:59:59 GMT");
    CHECK(format_http_date(-1) == "Wed, 31 Dec 1969 23:59:59 GMT");
    CHECK(format_http_date(253402300800) == "Sat, 01 Jan 10000 00:00:00 GMT");
}

TEST_CASE("the ETag is the quoted hex mtime and size", "[static][http]") {
    CHECK(format_etag(0x5f1e2d3c, 0x1a4) == "\"5f1e2d3c-1a4\"");
    CHECK(format_etag(1, 0) == "\"1-0\"");
    CHECK(format_etag(-1, UINT64_MAX) == "\"ffffffffffffffff-ffffffffffffffff\"");
}

TEST_CASE("header values from the config are checked", "[static][http]") {
    CHECK(is_field_value("web1"));
    CHECK(is_field_value("a\tb c"));
    CHECK_FALSE(is_field_value("a\r\nSet-Cookie: x"));
    CHECK_FALSE(is_field_value(std::string_view("a\0", 2)));
}
