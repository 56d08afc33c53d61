// conf.d/mime.toml, as shipped: it covers the common types and labels text as UTF-8.
#include <catch2/catch.hpp>
#include <string>
#include <toml++/toml.h>

TEST_CASE("the shipped MIME table covers the common extensions", "[mime_file]") {
    toml::table root = toml::parse_file(std::string(PROXYD_SOURCE_DIR) + "/conf.d/mime.toml");
    REQUIRE(root.size() == 1);
    const toml::table *types = root["types"].as_table();
    REQUIRE(types);
    for (const char *ext :
         {"html", "htm",  "css",  "js",   "mjs", "json", "txt",  "xml",  "svg",   "png", "jpg",
          "jpeg", "gif",  "webp", "avif", "ico", "pdf",  "wasm", "woff", "woff2", "ttf", "otf",
          "mp4",  "webm", "mp3",  "ogg",  "zip", "gz",   "tar",  "csv",  "md"}) {
        CAPTURE(ext);
        CHECK(types->get_as<std::string>(ext) != nullptr);
    }
}

TEST_CASE("the shipped MIME table labels every text type as UTF-8", "[mime_file]") {
    toml::table root = toml::parse_file(std::string(PROXYD_SOURCE_DIR) + "/conf.d/mime.toml");
    for (const auto &[ext, value] : *root["types"].as_table()) {
        std::string type = value.value_or(std::string());
        CAPTURE(ext.str(), type);
        REQUIRE_FALSE(type.empty());
        const bool textual = type.starts_with("text/") || type.find("javascript") != std::string::npos ||
                             type.find("json") != std::string::npos || type.find("xml") != std::string::npos;
        CHECK(textual == (type.find("; charset=utf-8") != std::string::npos));
    }
}
