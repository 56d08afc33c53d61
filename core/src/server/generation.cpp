#include "server/generation.hpp"

#include "server/drain_order.hpp"
#include "upstream/upstream_shared.hpp"

namespace proxyd {

std::unique_ptr<Generation> Generation::load(uint64_t number, const std::string &path, LoadOptions options,
                                             const Logger &loading_logger, MetricsStore &metrics,
                                             std::vector<std::string> &errors) {
    std::unique_ptr<Generation> g(new Generation(number));
    init_plugin_host(g->host_, loading_logger);
    options.host = &g->host_.api;
    // Made before the config, whose TLS contexts keep it to report from their handshakes; it
    // writes nothing until its file opens below, and no handshake runs before that.
    g->logger_ = std::make_unique<Logger>(g->error_log_);
    options.logger = g->logger_.get();
    g->config_ = load_config(path, options, errors);
    if (!g->config_) return nullptr;
    std::string error;
    if (!g->error_log_.open(g->config_->log.error, error) ||
        !g->access_log_.open(g->config_->log.access, error)) {
        errors.push_back(error);
        return nullptr;
    }
    g->logger_->set_level(g->config_->log.level);
    // At every start and reload, so a certificate's approaching expiry shows in the error log.
    for (const auto &w : g->config_->warnings)
        g->logger_->warn(w);
    // No thread of this generation runs yet, so the switch needs no synchronisation: plugins log
    // through this generation's error log from here on.
    g->host_.logger = g->logger_.get();
    g->discovery_ = std::make_unique<DiscoveryService>(*g->config_, *g->logger_);
    g->health_ = std::make_shared<HealthBoard>(*g->config_);
    g->checker_ = std::make_unique<HealthChecker>(*g->config_, *g->health_, *g->logger_);
    g->shared_ = std::unique_ptr<WorkerShared>(
        new WorkerShared{*g->config_, g->host_, *g->logger_, g->access_log_, metrics,
                         listeners_serving_own_upstreams(*g->config_), g->discovery_.get(), *g->health_, {}});
    for (const UpstreamConfig &u : g->config_->upstreams)
        g->shared_->upstreams.push_back(std::make_unique<UpstreamShared>(u));
    return g;
}

Generation::~Generation() {
    if (checker_) checker_->stop();
    workers.clear(); // joins their threads before what they use goes
    if (discovery_) discovery_->close();
    config_.reset(); // plugin instances may log while being destroyed
}

bool Generation::reopen_logs(std::string &error) {
    bool ok = error_log_.reopen(error);
    std::string access_error;
    if (!access_log_.reopen(access_error)) {
        error = error.empty() ? access_error : error + "; " + access_error;
        ok = false;
    }
    return ok;
}

void Generation::place_discovered(size_t upstream, const SlotTable &table) {
    std::vector<std::string> addresses;
    addresses.reserve(table.peers.size());
    for (const auto &peer : table.peers)
        addresses.push_back(peer ? peer->address_text : std::string());
    std::vector<uint32_t> occupants = health_->place_discovered(upstream, addresses, uv_hrtime() / 1000000);
    checker_->follow(upstream, table.peers, std::move(occupants));
}

} // namespace proxyd
