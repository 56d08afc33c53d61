// served_by: a filter (ABI 1.3) that stamps every response with the server's name and refuses the
// request methods it is told to, before they reach a backend or a content plugin.
//
// The filter example beside echo_json, built against the installed SDK only. It shows a filter's
// two most used hooks: request_head (answer a request, or let it continue) and response_head
// (change the head of every response the chain sees, including proxyd's own error pages).
// served_by_test.cpp unit-tests it with the SDK's test host.
//
// Config keys of a [filters.NAME] block using it:
//   name = "web-1"                 required: the X-Served-By value
//   deny_methods = ["DELETE"]      optional: answered 405 without going further
#include <memory>
#include <proxyd/plugin.hpp>
#include <string>
#include <vector>

namespace {

using proxyd::sdk::Config;

class ServedBy {
  public:
    static std::unique_ptr<ServedBy> create(Config &config) {
        config.check_keys({"name", "deny_methods"});
        auto self = std::make_unique<ServedBy>();
        auto name = config.string("name");
        if (!name && !config.child("name").present()) config.error("'name' is required");
        self->name_ = std::string(name.value_or(""));
        for (const Config &method : config.child("deny_methods").elements())
            if (auto text = method.as_string("method")) self->deny_.emplace_back(*text);
        if (config.failed()) return nullptr;
        return self;
    }

    int request_head(void *, const proxyd::sdk::FilterRequest &request) const {
        for (const std::string &method : deny_)
            if (request.method() == method) {
                int rc = request.respond(405, {{"Content-Type", "text/plain"}}, "method not allowed here\n");
                return rc == PROXYD_OK ? PROXYD_FILTER_RESPONDED : rc;
            }
        return PROXYD_FILTER_CONTINUE;
    }

    void response_head(void *, const proxyd::sdk::Request &, proxyd::sdk::ResponseHead head) const {
        (void)head.set_header("X-Served-By", name_);
    }

  private:
    std::string name_;
    std::vector<std::string> deny_;
};

} // namespace

PROXYD_FILTER_PLUGIN(ServedBy, "served_by", "1.0.0")
