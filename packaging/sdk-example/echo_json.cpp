// echo_json: a content plugin that answers every request with a JSON description of it.
//
// An example of a plugin built outside proxyd's source tree, against the installed SDK only
// (pkg-config proxyd-plugin). It shows the three things most plugins need: validating their own
// config so `proxyd -t` catches mistakes, per-worker state without locks, and answering through
// the response host calls. echo_json_test.cpp unit-tests it with the SDK's test host.
//
// Config keys of a handler using it:
//   service = "name"        required: echoed back as "service"
//   status = 200            optional: the status code to answer with (200..599)
//   include_headers = true  optional: list the request's headers in the answer
#include <proxyd/plugin.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace {

using proxyd::sdk::Config;
using proxyd::sdk::Request;
using proxyd::sdk::Response;

// Appends s as a JSON string. Header bytes outside ASCII are taken as Latin-1, as HTTP's obs-text
// historically was, so the answer is valid JSON whatever the client sent.
void append_json_string(std::string &out, std::string_view s) {
    out += '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}

class EchoJson {
  public:
    // Per worker thread: created and used on that thread only, so a plain counter is safe.
    struct Worker {
        explicit Worker(const EchoJson &) {}
        uint64_t requests = 0;
    };

    static std::unique_ptr<EchoJson> create(Config &config) {
        config.check_keys({"service", "status", "include_headers"});
        auto service = config.string("service");
        if (!service && !config.child("service").present()) config.error("'service' is required");
        int64_t status = config.integer("status").value_or(200);
        if (status < 200 || status > 599) config.child("status").error("'status' must be within 200..599");
        bool include_headers = config.boolean("include_headers").value_or(true);
        if (config.failed()) return nullptr;
        return std::make_unique<EchoJson>(std::string(*service), static_cast<int>(status), include_headers);
    }

    EchoJson(std::string service, int status, bool include_headers)
        : service_(std::move(service)), status_(status), include_headers_(include_headers) {}

    int handle(Worker *worker, const Request &request, Response response) const {
        ++worker->requests;
        const proxyd_request &raw = request.raw();
        std::string json = "{\"service\":";
        append_json_string(json, service_);
        auto field = [&json](const char *name, std::string_view value) {
            json += ",\"";
            json += name;
            json += "\":";
            append_json_string(json, value);
        };
        field("method", request.method());
        field("target", request.target());
        field("path", request.path());
        field("query", request.query());
        field("host", request.host());
        field("version", std::to_string(raw.http_major) + "." + std::to_string(raw.http_minor));
        field("client", proxyd::sdk::view(raw.client_address));
        json += ",\"worker_requests\":" + std::to_string(worker->requests);
        if (include_headers_) {
            json += ",\"headers\":[";
            bool first = true;
            for (auto [name, value] : request.headers()) {
                json += first ? "[" : ",[";
                first = false;
                append_json_string(json, name);
                json += ',';
                append_json_string(json, value);
                json += ']';
            }
            json += ']';
        }
        json += "}\n";

        int rc = response.status(status_);
        if (rc == PROXYD_OK) rc = response.header("Content-Type", "application/json");
        if (rc == PROXYD_OK) rc = response.header("Cache-Control", "no-store");
        if (rc == PROXYD_OK) rc = response.body(json);
        if (rc == PROXYD_OK) rc = response.finish();
        return rc;
    }

  private:
    std::string service_;
    int status_;
    bool include_headers_;
};

} // namespace

PROXYD_CONTENT_PLUGIN(EchoJson, "echo_json", "1.0.0")
