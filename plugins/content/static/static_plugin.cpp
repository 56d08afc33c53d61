// content/static: serves the files under a root folder (GET and HEAD), with MIME types, index
// files or a listing, validators and conditional requests, byte ranges (one, or several as
// multipart/byteranges), precompressed siblings and Cache-Control, through sendfile.
#include "http_text.hpp"
#include "multipart_byteranges.hpp"
#include "static_handler.hpp"
#include "static_site.hpp"

#include <cerrno>
#include <memory>
#include <optional>
#include <proxyd/plugin.hpp>
#include <string>
#include <unistd.h>
#include <vector>

namespace proxyd::static_files {
namespace {

class StaticHandler {
  public:
    static std::unique_ptr<StaticHandler> create(sdk::Config &config) {
        HandlerConfig parsed = parse_handler_config(config);
        if (config.failed()) return nullptr;
        return std::make_unique<StaticHandler>(config.host(), config.logger(), std::move(parsed));
    }

    StaticHandler(const proxyd_host *host, sdk::Logger log, HandlerConfig config)
        : host_(host), log_(std::move(log)), site_(std::move(config.site)),
          headers_(std::move(config.headers)) {}

    // Per worker: the content-hash cache, used only with etag = "content-hash", and the
    // multipart boundaries.
    struct Worker {
        explicit Worker(const StaticHandler &) {}
        HashCache hashes;
        BoundarySource boundaries;
    };

    int handle(Worker *worker, const sdk::Request &request, sdk::Response response) const {
        ConditionalHeaders headers;
        std::string if_match, if_none_match, accept_encoding;
        headers.if_match = list_header(request, "If-Match", if_match);
        headers.if_none_match = list_header(request, "If-None-Match", if_none_match);
        headers.if_modified_since = request.header("If-Modified-Since");
        headers.if_unmodified_since = request.header("If-Unmodified-Since");
        headers.range = request.header("Range");
        headers.if_range = request.header("If-Range");
        headers.accept_encoding = list_header(request, "Accept-Encoding", accept_encoding);
        StaticReply reply =
            site_.serve(request.method(), request.path(), client_path(request.target(), request.path()),
                        request.query(), headers, worker ? &worker->hashes : nullptr);
        if (!reply.internal_error.empty()) log_.error(reply.internal_error);
        if (!reply.ranges.empty()) return send_multipart(worker, response, reply);
        return send(response, reply);
    }

  private:
    // A list-valued header (RFC 9110 §5.3) may come as several field lines; they mean the same as
    // one line joined with commas. storage keeps the joined text while the request is served.
    std::optional<std::string_view> list_header(const sdk::Request &request, std::string_view name,
                                                std::string &storage) const {
        const proxyd_request_handle *handle = request.raw().handle;
        std::optional<std::string_view> first;
        size_t lines = 0;
        for (size_t i = 0, n = host_->request_header_count(handle); i < n; ++i) {
            proxyd_str field{}, value{};
            if (host_->request_header_at(handle, i, &field, &value) != PROXYD_OK ||
                !equals_ignore_case(sdk::view(field), name))
                continue;
            if (lines++ == 0) first = sdk::view(value);
            if (!storage.empty()) storage.append(", ");
            storage.append(sdk::view(value));
        }
        if (lines <= 1) return first;
        return std::string_view(storage);
    }

    // The head of reply, with content_type and content_encoding as given (a multipart body
    // has its own type and no coding of its own).
    int send_head(const sdk::Response &response, const StaticReply &reply, std::string_view content_type,
                  std::string_view content_encoding) const {
        int rc = response.status(reply.status);
        auto header = [&](std::string_view name, std::string_view value) {
            if (rc == PROXYD_OK && !value.empty()) rc = response.header(name, value);
        };
        for (const auto &[name, value] : headers_)
            header(name, value);
        header("Content-Type", content_type);
        if (reply.allow_header) header("Allow", "GET, HEAD");
        header("Location", reply.location);
        header("Last-Modified", reply.last_modified);
        header("ETag", reply.etag);
        header("Content-Range", reply.content_range);
        if (reply.accept_ranges) header("Accept-Ranges", "bytes");
        header("Content-Encoding", content_encoding);
        if (reply.vary_accept_encoding) header("Vary", "Accept-Encoding");
        header("Cache-Control", reply.cache_control);
        return rc;
    }

    int send(const sdk::Response &response, StaticReply &reply) const {
        int rc = send_head(response, reply, reply.content_type, reply.content_encoding);
        if (rc != PROXYD_OK) return rc;

        // An empty file needs no sendfile at all; the core still sends Content-Length: 0.
        if (reply.file.valid() && reply.file_length > 0)
            rc = response.file(reply.file.release(), reply.file_offset, reply.file_length);
        else if (!reply.body.empty())
            rc = response.body(reply.body);
        if (rc != PROXYD_OK) return rc;
        return response.finish();
    }

    // A 206 of several ranges: each part's frame text, then its bytes straight from the file,
    // every range naming the one descriptor (the core reads each at its offset and closes it
    // after the last, ABI 1.5), so a slow reader of 16 parts holds one file open, not 16.
    int send_multipart(Worker *worker, const sdk::Response &response, StaticReply &reply) const {
        BoundarySource local_boundaries;
        BoundarySource &boundaries = worker ? worker->boundaries : local_boundaries;
        MultipartFrame frame = frame_byteranges(reply.ranges, reply.file_size, reply.content_type,
                                                reply.content_encoding, boundaries.next());
        int rc = send_head(response, reply, frame.content_type, {});
        int fd = reply.file.get();
        for (size_t i = 0; rc == PROXYD_OK && i < reply.ranges.size(); ++i) {
            rc = response.body(frame.part_heads[i]);
            // The core owns the descriptor from the first range on, whatever that call returns.
            if (rc == PROXYD_OK)
                rc = response.file(i == 0 ? reply.file.release() : fd, reply.ranges[i].offset,
                                   reply.ranges[i].length);
        }
        if (rc == PROXYD_OK) rc = response.body(frame.closing);
        if (rc != PROXYD_OK) return rc;
        return response.finish();
    }

    const proxyd_host *host_;
    sdk::Logger log_;
    StaticSite site_;
    std::vector<std::pair<std::string, std::string>> headers_;
};

} // namespace
} // namespace proxyd::static_files

PROXYD_CONTENT_PLUGIN(proxyd::static_files::StaticHandler, "static", "0.1.0")
