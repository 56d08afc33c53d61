// A content plugin written only to exercise plugin.hpp's helper (tests/plugins/sdk_helper_test.cpp):
// config getters, the plugin name, header iteration, the request body, the request's TLS (1.2), the
// worker context, answering
// later through WorkerContext::post, and cancelled. Not a plugin anyone would run.
#include <proxyd/plugin.hpp>

#include <memory>
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
        config.check_keys({"ratio", "label"});
        auto ratio = config.number("ratio");
        auto label = config.string("label");
        if (config.failed()) return nullptr;
        return std::make_unique<Probe>(ratio.value_or(0.5), std::string(label.value_or("")),
                                       std::string(config.plugin_name()));
    }
    Probe(double ratio, std::string label, std::string name)
        : ratio_(ratio), label_(std::move(label)), name_(std::move(name)) {}

    int handle(Worker *worker, const Request &request, Response response) const {
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
    double ratio_;
    std::string label_;
    std::string name_;
};

} // namespace

PROXYD_CONTENT_PLUGIN(Probe, "sdk_probe_content", "1.1.0")
