#include "exchange/make_exchange.hpp"

#include "exchange/content_exchange.hpp"
#include "exchange/proxy_exchange.hpp"

namespace proxyd {

std::unique_ptr<Exchange> make_exchange(ExchangeClient &client, Target target) {
    ExchangeWorker &worker = client.worker();
    const Config &config = worker.config();
    if (target.kind == Target::Kind::Handler && target.index < config.handlers.size())
        return std::make_unique<ContentExchange>(client, *config.handlers[target.index].instance);
    if (target.kind == Target::Kind::Upstream && target.index < config.upstreams.size())
        return std::make_unique<ProxyExchange>(client, worker.upstream(target.index));
    return nullptr;
}

} // namespace proxyd
