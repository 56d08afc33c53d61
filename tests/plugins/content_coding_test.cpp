// content/static: which precompressed codings a client's Accept-Encoding takes, best first.
#include "content_coding.hpp"
#include "dir_listing.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace proxyd::static_files;

namespace {

std::string order(std::string_view accept_encoding) {
    CodingPreference p = preferred_codings(accept_encoding);
    std::string out;
    for (size_t i = 0; i < p.count; ++i)
        out += (i ? "," : "") + std::string(p.codings[i]->name);
    return out;
}

} // namespace

TEST_CASE("Accept-Encoding picks br before gzip, honours q and '*'", "[static][coding]") {
    CHECK(order("gzip, deflate, br") == "br,gzip");
    CHECK(order("gzip") == "gzip");
    CHECK(order("x-gzip") == "gzip");
    CHECK(order("BR") == "br");
    CHECK(order("br;q=0.5, gzip;q=0.8") == "gzip,br");
    CHECK(order("br;q=0, gzip") == "gzip");
    CHECK(order("gzip;q=0.000") == "");
    CHECK(order("*") == "br,gzip");
    CHECK(order("*;q=0, gzip") == "gzip");
    CHECK(order("identity") == "");
    CHECK(order("") == "");
    CHECK(order("deflate;q=1, gzip ; q=1.0") == "gzip");
    CHECK(order("gzip;q=2") == ""); // a malformed qvalue drops the element
    CHECK(order(" , ,gzip") == "gzip");
}

TEST_CASE("listing names are escaped, links percent-encoded", "[static][listing]") {
    CHECK(html_escape("<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    CHECK(percent_encode("a b/é?#%") == "a%20b/%C3%A9%3F%23%25");
    std::string page = render_listing("/d<ir>/", {{"<script>", false}, {"sub dir", true}});
    CHECK(page.find("<script>") == std::string::npos);
    CHECK(page.find("Index of /d&lt;ir&gt;/") != std::string::npos);
    CHECK(page.find("<a href=\"./%3Cscript%3E\">&lt;script&gt;</a>") != std::string::npos);
    CHECK(page.find("<a href=\"./sub%20dir/\">sub dir/</a>") != std::string::npos);
    CHECK(page.find("href=\"../\"") != std::string::npos);
    CHECK(render_listing("/", {}).find("href=\"../\"") == std::string::npos);
}
