// A content plugin written only to exercise plugin.hpp's helper (tests/plugins/sdk_helper_test.cpp):
// config getters, the plugin name and its Logger, header iteration, the request body, the request's TLS
// (1.2), the worker context, answering later through WorkerContext::post, and cancelled; and, for the real
// core (tests/integration/test_content_file_ranges.py), a body of several ranges naming one descriptor
// (ABI 1.5). Not a plugin anyone would run.
#include <fcntl.h>
#include <memory>
#include <proxyd/plugin.hpp>
#include <string>
#include <vector>

namespace {

using proxyd::sdk::Config;
using proxyd::sdk::Request;
using proxyd::sdk::Response;
using proxyd::sdk::WorkerContext;

class Probe {
  public:
    static constexpr uint64_t max_body = 16;

    struct Worker {
        Worker(const Probe &, const WorkerContext &given) : context(given) {}
        WorkerContext context;
        std::vector<Response> parked; // responses answered on the next posted callback
    };

    static std::unique_ptr<Probe> create(Config &config) {
        config.check_keys({"ratio", "label", "ranges_file"});
        auto ratio = config.number("ratio");
        auto label = config.string("label");
        auto ranges_file = config.string("ranges_file");
        if (config.failed()) return nullptr;
        return std::make_unique<Probe>(ratio.value_or(0.5), std::string(label.value_or("")),
                                       std::string(config.plugin_name()),
                                       std::string(ranges_file.value_or("")), config.logger());
    }
    Probe(double ratio, std::string label, std::string name, std::string ranges_file, proxyd::sdk::Logger log)
        : ratio_(ratio), label_(std::move(label)), name_(std::move(name)),
          ranges_file_(std::move(ranges_file)), log_(std::move(log)) {}

    int handle(Worker *worker, const Request &request, Response response) const {
        if (request.path() == "/log") {
            log_.warn("asked to log " + std::string(request.query()));
            log_.debug("and once more at debug");
            return response.simple(200, "text/plain", "logged");
        }
        if (request.path() == "/ranges" && !ranges_file_.empty()) return send_ranges(response);
        if (request.path() == "/later") {
            // Answer from the worker's queue, as a plugin would after work on a thread of its own.
            worker->parked.push_back(response);
            return worker->context.post([worker, response] {
                for (size_t i = 0; i < worker->parked.size(); ++i)
                    if (worker->parked[i] == response) {
                        worker->parked.erase(worker->parked.begin() + static_cast<std::ptrdiff_t>(i));
                        response.simple(200, "text/plain", "later");
                        return;
                    }
            });
        }
        std::string text = "name=" + name_ + " label=" + label_ + " ratio=" + std::to_string(ratio_) +
                           " worker=" + std::to_string(worker->context.index()) + "/" +
                           std::to_string(worker->context.count()) + "\n";
        for (auto [name, value] : request.headers())
            text += std::string(name) + ": " + std::string(value) + "\n";
        if (auto body = request.body()) text += "body=" + std::string(*body) + "\n";
        if (auto tls = request.tls())
            text += "tls=" + std::string(tls->version.ptr, tls->version.len) +
                    " verified=" + std::to_string(tls->client_verify == PROXYD_TLS_VERIFY_SUCCESS) +
                    " subject=" + std::string(tls->client_subject.ptr, tls->client_subject.len) + "\n";
        return response.simple(200, "text/plain", text);
    }

    void cancelled(Worker *worker, Response response) const {
        for (size_t i = 0; i < worker->parked.size(); ++i)
            if (worker->parked[i] == response)
                worker->parked.erase(worker->parked.begin() + static_cast<std::ptrdiff_t>(i));
    }

  private:
    // An empty range first, then bytes 2-4 and 0-1 of the file, all naming one descriptor, with
    // "|" between: the core must keep it open past the empty range and close it once, at the end.
    int send_ranges(const Response &response) const {
        int fd = ::open(ranges_file_.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return response.simple(500, "text/plain", "cannot open the ranges file\n");
        int rc = response.status(200);
        if (rc == PROXYD_OK) rc = response.header("Content-Type", "application/octet-stream");
        if (rc != PROXYD_OK) {
            ::close(fd);
            return rc;
        }
        response.file(fd, 0, 0); // the core owns fd from here on
        response.body("|");
        response.file(fd, 2, 3);
        response.body("|");
        response.file(fd, 0, 2);
        return response.finish();
    }

    double ratio_;
    std::string label_;
    std::string name_;
    std::string ranges_file_;
    proxyd::sdk::Logger log_;
};

} // namespace

PROXYD_CONTENT_PLUGIN(Probe, "sdk_probe_content", "1.1.0")
