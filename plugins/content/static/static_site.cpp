#include "static_site.hpp"

#include "http_text.hpp"
#include "path_normalise.hpp"

#include <cerrno>
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

StaticReply StaticSite::serve(std::string_view method, std::string_view path, std::string_view redirect_path,
                              std::string_view query) const {
    if (method != "GET" && method != "HEAD") {
        StaticReply reply = error_reply(405);
        reply.allow_header = true;
        return reply;
    }
    std::string normalised;
    if (normalise_path(path, normalised) != PathError::None) return error_reply(400);
    if (!options_.allow_dotfiles && has_hidden_segment(normalised)) return error_reply(404);

    // The open and fstat below block the worker's loop thread. Acceptable while roots are on local
    // disk, where they take microseconds; moving them to the threadpool is a later step.
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

    if (S_ISDIR(st.st_mode)) {
        if (normalised.ends_with('/')) return serve_directory(normalised.substr(1));
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
    return serve_file(std::move(fd), static_cast<uint64_t>(st.st_size), st.st_mtim.tv_sec, normalised);
}

StaticReply StaticSite::serve_directory(const std::string &relative_dir) const {
    for (const std::string &name : options_.index) {
        std::string relative = relative_dir + name;
        int opened = options_.root.open_beneath(relative);
        if (opened == -ENOENT) continue;
        if (opened < 0) return open_error_reply(-opened, relative, options_.root.path());
        UniqueFd fd(opened);
        struct stat st {};
        if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        return serve_file(std::move(fd), static_cast<uint64_t>(st.st_size), st.st_mtim.tv_sec, name);
    }
    // No index and no listing: nginx answers the same.
    return error_reply(403);
}

StaticReply StaticSite::serve_file(UniqueFd fd, uint64_t size, int64_t mtime, std::string_view name) const {
    StaticReply reply;
    reply.content_type = options_.mime.lookup(name);
    if (reply.content_type.empty()) reply.content_type = options_.default_type;
    reply.last_modified = format_http_date(mtime);
    reply.etag = format_etag(mtime, size);
    reply.file = std::move(fd);
    reply.file_size = size;
    return reply;
}

} // namespace proxyd::static_files
