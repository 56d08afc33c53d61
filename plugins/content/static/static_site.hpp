// What the static plugin answers to a request, decided apart from the ABI so it can be tested
// against a real folder: StaticSite::serve returns a StaticReply that the plugin glue sends.
#ifndef PROXYD_PLUGINS_STATIC_SITE_HPP
#define PROXYD_PLUGINS_STATIC_SITE_HPP

#include "byte_ranges.hpp"
#include "content_hash.hpp"
#include "http_conditions.hpp"
#include "mime_table.hpp"
#include "root_dir.hpp"
#include "unique_fd.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <vector>

namespace proxyd::static_files {

struct SiteOptions {
    RootDirectory root;
    MimeTable mime = MimeTable::builtin();
    std::string default_type = "application/octet-stream";
    std::vector<std::string> index = {"index.html"}; // plain file names, no '/'
    bool allow_dotfiles = false;
    bool autoindex = false;     // list a folder that has no index file (else 403)
    bool precompressed = false; // serve "name.br" / "name.gz" beside "name" when accepted
    // ETags from mtime and size (no read), or from a hash of the bytes for files up to
    // etag_hash_max_size (bigger ones keep mtime-size, so no request reads a large file).
    enum class EtagMode { MtimeSize, ContentHash } etag_mode = EtagMode::MtimeSize;
    uint64_t etag_hash_max_size = 1024 * 1024;
    // Cache-Control of file responses (200, 206, 304): by extension (the MimeTable is used as a
    // plain extension → text map), else cache_control; nothing when both are empty.
    std::string cache_control;
    MimeTable cache_control_by_extension;
    // More range-specs than this in one Range: the whole file (see plan_ranges); 0 ignores Range.
    size_t max_ranges = kDefaultMaxRanges;
};

struct StaticReply {
    int status = 200;
    std::string_view content_type;     // borrowed from the site (or static storage); none on a 304
    std::string body;                  // an error page or a directory listing
    bool allow_header = false;         // 405: send "Allow: GET, HEAD"
    std::string location;              // 301
    std::string last_modified;         // file responses (200, 206, 304)
    std::string etag;                  // file responses
    std::string content_range;         // 416, and a 206 of one range
    bool accept_ranges = false;        // file responses: "Accept-Ranges: bytes"
    std::string_view content_encoding; // "br" or "gzip" when a precompressed sibling is sent
    bool vary_accept_encoding = false; // precompressed is on: the answer depends on Accept-Encoding
    std::string_view cache_control;    // borrowed from the site options
    UniqueFd file;                     // 200/206: the file to send, [file_offset, file_offset + file_length)
    uint64_t file_size = 0;            // the whole file (representation) size
    uint64_t file_offset = 0;
    uint64_t file_length = 0;
    // A 206 of several ranges of file, in the order to send (file_offset/file_length unused): the
    // body is multipart/byteranges, framed by the sender (multipart_byteranges.hpp), each part of
    // type content_type and coding content_encoding.
    std::vector<ByteRange> ranges;
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
    // is built from (see client_path()), query the query string without its '?', headers the
    // conditional, range and Accept-Encoding values. Blocks on open, fstat (and readdir for a
    // listing, and hashing under EtagMode::ContentHash): see the bound in static_site.cpp.
    // hashes is the calling worker's cache of content hashes (nullptr: hash every time).
    StaticReply serve(std::string_view method, std::string_view path, std::string_view redirect_path,
                      std::string_view query, const ConditionalHeaders &headers = {},
                      HashCache *hashes = nullptr) const;

    const SiteOptions &options() const { return options_; }

  private:
    struct Request {
        bool is_get;
        const ConditionalHeaders &headers;
        HashCache *hashes;
        int64_t now; // seconds since the epoch, read before the core stamps the response's Date
    };
    std::string entity_tag(int fd, const struct stat &st, std::string_view coding, int64_t now,
                           HashCache *hashes) const;
    StaticReply serve_directory(const std::string &normalised_dir, const Request &request) const;
    StaticReply serve_listing(const std::string &normalised_dir) const;
    StaticReply serve_file(UniqueFd fd, const struct stat &st, const std::string &relative,
                           const Request &request) const;
    // The precompressed sibling of relative the client accepts, if one is there and not older than
    // the original: fd and st replaced, the coding's name returned. Empty when none applies.
    std::string_view open_precompressed(const std::string &relative, const struct stat &original,
                                        const ConditionalHeaders &headers, UniqueFd &fd,
                                        struct stat &st) const;

    SiteOptions options_;
};

} // namespace proxyd::static_files

#endif
