// A filter written only to exercise plugin.hpp's 1.3 helper (tests/plugins/sdk_helper_test.cpp):
// request edits, a Timer kept in request state that resumes the request, respond, the response
// head, the log hook and cancelled.
//   X-Delay: N   wait N ms on a timer, then add "X-Waited: N" and continue
//   X-Refuse: 1  answer 418 at once
// Every response gets "X-Probe: <request id> <scheme>"; the worker counts log calls.
#include <charconv>
#include <memory>
#include <proxyd/plugin.hpp>
#include <string>

namespace {

using proxyd::sdk::Config;
using proxyd::sdk::FilterRequest;
using proxyd::sdk::Request;
using proxyd::sdk::ResponseHead;

class Probe {
  public:
    struct Worker {
        explicit Worker(const Probe &) {}
        int logged = 0;
        uint64_t last_status = 0;
        int cancelled = 0;
    };
    struct Wait {
        proxyd::sdk::Timer timer;
    };

    static std::unique_ptr<Probe> create(Config &config) {
        config.check_keys({});
        return std::make_unique<Probe>();
    }

    int request_head(Worker *, const FilterRequest &request) const {
        (void)request.set_header("X-Seen", std::string(request.method()) + " " + std::string(request.path()));
        if (request.header("X-Refuse")) {
            request.respond(418, {{"Content-Type", "text/plain"}}, "no\n");
            return PROXYD_FILTER_RESPONDED;
        }
        auto delay = request.header("X-Delay");
        if (!delay) return PROXYD_FILTER_CONTINUE;
        uint64_t ms = 0;
        std::from_chars(delay->data(), delay->data() + delay->size(), ms);
        Wait *wait = request.emplace_state<Wait>(this);
        if (!wait) return PROXYD_ENOMEM;
        std::string waited(*delay);
        int rc = wait->timer.start(request.host_table(), request.worker(), ms, [request, waited] {
            (void)request.add_header("X-Waited", waited);
            (void)request.resume(PROXYD_FILTER_CONTINUE);
        });
        return rc == PROXYD_OK ? PROXYD_FILTER_PENDING : rc;
    }

    void response_head(Worker *, const Request &request, ResponseHead head) const {
        (void)head.set_header("X-Probe",
                              std::string(request.request_id()) + " " + std::string(request.scheme()));
    }

    void log(Worker *worker, const Request &, const proxyd_exchange_summary &summary) const {
        ++worker->logged;
        worker->last_status = static_cast<uint64_t>(summary.status);
    }

    // The request state (and so its Timer, which cancels itself) is freed after this returns.
    void cancelled(Worker *worker, const Request &) const { ++worker->cancelled; }
};

} // namespace

PROXYD_FILTER_PLUGIN(Probe, "sdk_probe_filter", "1.0")
