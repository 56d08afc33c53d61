// What the static plugin answers to a request, decided apart from the ABI so it can be tested
// against a real folder: StaticSite::serve returns a StaticReply that the plugin glue sends.
#ifndef PROXYD_PLUGINS_STATIC_SITE_HPP
#define PROXYD_PLUGINS_STATIC_SITE_HPP

#include "mime_table.hpp"
#include "root_dir.hpp"
#include "unique_fd.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd::static_files {

struct SiteOptions {
    RootDirectory root;
    MimeTable mime = MimeTable::builtin();
    std::string default_type = "application/octet-stream";
    std::vector<std::string> index = {"index.html"}; // plain file names, no '/'
    bool allow_dotfiles = false;
};

struct StaticReply {
    int status = 200;
    std::string_view content_type; // borrowed from the site (or static storage)
    std::string_view body;         // the small HTML page of a non-200 reply (static storage)
    bool allow_header = false;     // 405: send "Allow: GET, HEAD"
    std::string location;          // 301
    std::string last_modified;     // 200
    std::string etag;              // 200
    UniqueFd file;                 // 200: the file to send, [0, file_size)
    uint64_t file_size = 0;
    std::string internal_error; // 500: what failed, for the log
};

// "text/html; charset=utf-8", the type of every page the plugin writes itself.
inline constexpr std::string_view kHtmlType = "text/html; charset=utf-8";

// The small HTML page for status, e.g. "<html>...404 Not Found...</html>"; empty for 200.
std::string_view status_page(int status);

// The path the client asked for, for redirects: the path part of target when the core passes
// an origin-form or absolute-form target, else path. Unlike the request's path, it is not
// affected by a routing plugin that stripped a prefix.
std::string_view client_path(std::string_view target, std::string_view path);

class StaticSite {
  public:
    explicit StaticSite(SiteOptions options) : options_(std::move(options)) {}

    // path is the request path (still percent-encoded), redirect_path what a redirect's Location
    // is built from (see client_path()), query the query string without its '?'. Blocks on open
    // and fstat.
    StaticReply serve(std::string_view method, std::string_view path, std::string_view redirect_path,
                      std::string_view query) const;

    const SiteOptions &options() const { return options_; }

  private:
    StaticReply serve_directory(const std::string &relative_dir) const;
    StaticReply serve_file(UniqueFd fd, uint64_t size, int64_t mtime, std::string_view name) const;

    SiteOptions options_;
};

} // namespace proxyd::static_files

#endif
