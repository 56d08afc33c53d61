#include "static_site.hpp"

#include "content_coding.hpp"
#include "dir_listing.hpp"
#include "http_text.hpp"
#include "path_normalise.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <sys/stat.h>

namespace proxyd::static_files {
namespace {

StaticReply error_reply(int status) {
    StaticReply reply;
    reply.status = status;
    reply.content_type = kHtmlType;
    reply.body = status_page(status);
    return reply;
}

// Whether a file's time (in seconds) is a strong validator at time now: once its second is over,
// a rewrite gets a later time. Until then, or while the time is in the future, a rewrite within
// the same second at the same size would keep it (RFC 9110 §8.8.2.2; Apache's rule). The second
// of margin is for a file written through another host's clock (NFS, SMB); FAT's two-second
// times would need more.
bool time_is_strong(const struct stat &st, int64_t now) { return st.st_mtim.tv_sec < now - 1; }

// Distinct tags per representation: the identity file and its precompressed siblings have their
// own bytes, so a cache must never take one for another. Weak while the time is not a strong
// validator (RFC 9110 §8.8.1): the tag then cannot splice ranges of two versions through
// If-Range, nor satisfy If-Match, and still revalidates a cache (If-None-Match compares weakly).
std::string representation_etag(const struct stat &st, std::string_view coding, int64_t now) {
    std::string tag = format_etag(st.st_mtim.tv_sec, static_cast<uint64_t>(st.st_size));
    if (!coding.empty()) tag.insert(tag.size() - 1, "-" + std::string(coding));
    if (!time_is_strong(st, now)) tag.insert(0, "W/");
    return tag;
}

// nginx's mapping: a name that is not there is 404, one we may not read is 403.
StaticReply open_error_reply(int error, const std::string &relative, const std::string &root) {
    switch (error) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return error_reply(404);
    case EACCES:
    case EPERM:
    case ELOOP: // a symlink loop, or (O_NOFOLLOW) a symlink where none may be
    case EXDEV: // openat2 refused to leave the root
        return error_reply(403);
    default: {
        StaticReply reply = error_reply(500);
        reply.internal_error = "open '" + relative + "' beneath '" + root + "': " + errno_text(error);
        return reply;
    }
    }
}

} // namespace

std::string_view status_page(int status) {
    switch (status) {
    case 301:
        return "<html><head><title>301 Moved Permanently</title></head>"
               "<body><h1>301 Moved Permanently</h1></body></html>\n";
    case 400:
        return "<html><head><title>400 Bad Request</title></head><body><h1>400 Bad "
               "Request</h1></body></html>\n";
    case 403:
        return "<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1></body></html>\n";
    case 404:
        return "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>\n";
    case 412:
        return "<html><head><title>412 Precondition Failed</title></head>"
               "<body><h1>412 Precondition Failed</h1></body></html>\n";
    case 416:
        return "<html><head><title>416 Range Not Satisfiable</title></head>"
               "<body><h1>416 Range Not Satisfiable</h1></body></html>\n";
    case 405:
        return "<html><head><title>405 Method Not Allowed</title></head>"
               "<body><h1>405 Method Not Allowed</h1></body></html>\n";
    case 500:
        return "<html><head><title>500 Internal Server Error</title></head>"
               "<body><h1>500 Internal Server Error</h1></body></html>\n";
    default:
        return {};
    }
}

std::string_view client_path(std::string_view target, std::string_view path) {
    std::string_view base = path;
    if (target.starts_with('/')) {
        base = target;
    } else if (size_t scheme = target.find("://"); scheme != std::string_view::npos) {
        size_t slash = target.find('/', scheme + 3);
        if (slash != std::string_view::npos) base = target.substr(slash);
    }
    return base.substr(0, base.find('?'));
}

// Bound on blocking: open, fstat and (for a listing) readdir run on the worker's loop thread, as
// the plugin ABI has no host call to run work on libuv's threadpool. On a local disk each takes
// microseconds; on a slow or network file system every connection of that worker waits for them.
// Such roots should get several workers, or a cache in front.
StaticReply StaticSite::serve(std::string_view method, std::string_view path, std::string_view redirect_path,
                              std::string_view query, const ConditionalHeaders &headers,
                              HashCache *hashes) const {
    if (method != "GET" && method != "HEAD") {
        StaticReply reply = error_reply(405);
        reply.allow_header = true;
        return reply;
    }
    std::string normalised;
    if (normalise_path(path, normalised) != PathError::None) return error_reply(400);
    if (!options_.allow_dotfiles && has_hidden_segment(normalised)) return error_reply(404);

    std::string relative = normalised.size() > 1 ? normalised.substr(1) : std::string(".");
    int opened = options_.root.open_beneath(relative);
    if (opened < 0) return open_error_reply(-opened, relative, options_.root.path());
    UniqueFd fd(opened);
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) {
        StaticReply reply = error_reply(500);
        reply.internal_error = "fstat '" + relative + "': " + errno_text(errno);
        return reply;
    }

    const Request request{method == "GET", headers, hashes, static_cast<int64_t>(std::time(nullptr))};
    if (S_ISDIR(st.st_mode)) {
        if (normalised.ends_with('/')) return serve_directory(normalised, request);
        StaticReply reply = error_reply(301);
        // "//host/x" (and "/\\host/x", which browsers read alike) in Location would send the
        // client to another site; one leading slash keeps the redirect on this one.
        size_t skip = redirect_path.find_first_not_of("/\\");
        std::string_view local =
            redirect_path.substr(skip == std::string_view::npos ? redirect_path.size() : skip);
        reply.location.reserve(local.size() + 3 + query.size());
        reply.location.append("/").append(local).push_back('/');
        if (!query.empty()) reply.location.append("?").append(query);
        return reply;
    }
    // FIFOs, sockets and devices are not content.
    if (!S_ISREG(st.st_mode)) return error_reply(404);
    return serve_file(std::move(fd), st, relative, request);
}

StaticReply StaticSite::serve_directory(const std::string &normalised_dir, const Request &request) const {
    const std::string relative_dir = normalised_dir.substr(1);
    for (const std::string &name : options_.index) {
        std::string relative = relative_dir + name;
        int opened = options_.root.open_beneath(relative);
        if (opened == -ENOENT) continue;
        if (opened < 0) return open_error_reply(-opened, relative, options_.root.path());
        UniqueFd fd(opened);
        struct stat st {};
        if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        return serve_file(std::move(fd), st, relative, request);
    }
    // No index: a listing when asked for, else 403 as nginx answers.
    return options_.autoindex ? serve_listing(normalised_dir) : error_reply(403);
}

StaticReply StaticSite::serve_listing(const std::string &normalised_dir) const {
    std::string relative = normalised_dir.size() > 1 ? normalised_dir.substr(1) : std::string(".");
    int opened = options_.root.open_beneath(relative);
    if (opened < 0) return open_error_reply(-opened, relative, options_.root.path());
    std::vector<ListingEntry> entries;
    if (int error = read_listing(opened, options_.allow_dotfiles, entries); error != 0) {
        StaticReply reply = error_reply(500);
        reply.internal_error = "list '" + relative + "': " + errno_text(error);
        return reply;
    }
    StaticReply reply;
    reply.content_type = kHtmlType;
    reply.body = render_listing(normalised_dir, entries);
    return reply;
}

std::string StaticSite::entity_tag(int fd, const struct stat &st, std::string_view coding, int64_t now,
                                   HashCache *hashes) const {
    const auto size = static_cast<uint64_t>(st.st_size);
    if (options_.etag_mode != SiteOptions::EtagMode::ContentHash || size > options_.etag_hash_max_size)
        return representation_etag(st, coding, now);
    // The cache knows a version by the file's times, which a same-size rewrite within one tick of
    // the kernel's clock keeps: a young file is hashed each time rather than trusted to the cache.
    const bool cacheable = hashes && time_is_strong(st, now);
    std::optional<uint64_t> hash = cacheable ? hashes->find(st) : std::nullopt;
    if (!hash) {
        // The one read of a file's bytes on the loop thread, bounded by etag_hash_max_size and
        // done once per version of the file and worker (each time while the file is young).
        hash = hash_file(fd, size);
        if (!hash) return representation_etag(st, coding, now); // it changed while read: no hash to trust
        if (cacheable) hashes->store(st, *hash);
    }
    std::string tag = format_hash_etag(*hash);
    if (!coding.empty()) tag.insert(tag.size() - 1, "-" + std::string(coding));
    return tag;
}

std::string_view StaticSite::open_precompressed(const std::string &relative, const struct stat &original,
                                                const ConditionalHeaders &headers, UniqueFd &fd,
                                                struct stat &st) const {
    if (!options_.precompressed || !headers.accept_encoding) return {};
    CodingPreference accepted = preferred_codings(*headers.accept_encoding);
    for (size_t i = 0; i < accepted.count; ++i) {
        const ContentCoding &coding = *accepted.codings[i];
        int opened = options_.root.open_beneath(relative + std::string(coding.suffix));
        if (opened < 0) continue;
        UniqueFd sibling(opened);
        struct stat sibling_st {};
        if (fstat(sibling.get(), &sibling_st) != 0 || !S_ISREG(sibling_st.st_mode)) continue;
        // A sibling older than its original was not rebuilt after an edit: serving it would
        // send stale content, so the original wins.
        if (sibling_st.st_mtim.tv_sec < original.st_mtim.tv_sec) continue;
        fd = std::move(sibling);
        st = sibling_st;
        return coding.name;
    }
    return {};
}

StaticReply StaticSite::serve_file(UniqueFd fd, const struct stat &original, const std::string &relative,
                                   const Request &request) const {
    const ConditionalHeaders &headers = request.headers;
    StaticReply reply;
    reply.content_type = options_.mime.lookup(relative);
    if (reply.content_type.empty()) reply.content_type = options_.default_type;
    reply.cache_control = options_.cache_control_by_extension.lookup(relative);
    if (reply.cache_control.empty()) reply.cache_control = options_.cache_control;
    reply.vary_accept_encoding = options_.precompressed;

    struct stat st = original;
    reply.content_encoding = open_precompressed(relative, original, headers, fd, st);
    const auto size = static_cast<uint64_t>(st.st_size);
    // RFC 9110 §8.8.2.1: a modification time in the future (a clock set wrong where the file was
    // written, or an archive's dates) is replaced by the response's own time, so Last-Modified is
    // never later than Date. The conditionals compare with the same time: such a file is never
    // "not modified since" by date, only by its ETag.
    const int64_t mtime = std::min<int64_t>(st.st_mtim.tv_sec, request.now);
    reply.last_modified = format_http_date(mtime);
    reply.etag = entity_tag(fd.get(), st, reply.content_encoding, request.now, request.hashes);
    reply.accept_ranges = options_.max_ranges > 0; // max_ranges = 0: Range is ignored (RFC 9110 §14.3)
    reply.file_size = size;

    switch (evaluate_preconditions(headers, reply.etag, mtime, true)) {
    case Precondition::NotModified:
        reply.status = 304;
        reply.content_type = {}; // RFC 9110 §15.4.5: only metadata that guides caches
        return reply;
    case Precondition::Failed: {
        StaticReply failed = error_reply(412);
        failed.vary_accept_encoding = reply.vary_accept_encoding;
        return failed;
    }
    case Precondition::Proceed:
        break;
    }

    // Range is defined for GET only (RFC 9110 §14.2): HEAD gets the 200 head a plain GET gets.
    RangePlan range;
    if (request.is_get && headers.range &&
        (!headers.if_range ||
         if_range_holds(*headers.if_range, reply.etag,
                        time_is_strong(st, request.now) ? std::optional<int64_t>(mtime) : std::nullopt)))
        range = plan_ranges(*headers.range, size, options_.max_ranges);
    if (range.kind == RangePlan::Kind::Unsatisfiable) {
        StaticReply unsatisfiable = error_reply(416);
        unsatisfiable.content_range = format_unsatisfied_range(size);
        unsatisfiable.accept_ranges = true;
        unsatisfiable.vary_accept_encoding = reply.vary_accept_encoding;
        return unsatisfiable;
    }
    if (range.kind == RangePlan::Kind::Partial && range.ranges.size() == 1) {
        // One satisfiable range, even among several asked for, is a plain 206 (as nginx does):
        // RFC 9110 §14.6 lets a server send a single part without multipart framing.
        reply.status = 206;
        reply.content_range = format_content_range(range.ranges.front(), size);
        reply.file_offset = range.ranges.front().offset;
        reply.file_length = range.ranges.front().length;
    } else if (range.kind == RangePlan::Kind::Partial) {
        reply.status = 206;
        reply.ranges = std::move(range.ranges);
    } else {
        reply.file_offset = 0;
        reply.file_length = size;
    }
    reply.file = std::move(fd);
    return reply;
}

} // namespace proxyd::static_files
