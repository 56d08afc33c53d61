#include "server/client_request.hpp"

namespace proxyd {

std::unique_ptr<ClientRequest> ClientRequestPool::take(const RequestLimits &limits,
                                                       RequestParser::Events &events, const Worker &worker,
                                                       ClientConnection &connection) {
    std::unique_ptr<ClientRequest> request;
    if (spare_.empty()) {
        request = std::make_unique<ClientRequest>(limits, events);
    } else {
        request = std::move(spare_.back());
        spare_.pop_back();
        request->parser.reuse(limits, events);
    }
    request->handle.worker = &worker;
    request->handle.connection = &connection;
    return request;
}

void ClientRequestPool::give_back(std::unique_ptr<ClientRequest> request) {
    if (!request || spare_.size() >= kMaxSpare || request->parser.head().capacity() > kMaxKeptBytes) return;
    request->arena.clear();
    request->record = AccessRecord{};
    request->view = proxyd_request{};
    request->filters.reset();
    request->path_rewritten = false;
    // A plugin that kept the handle past its request reaches no connection through it.
    request->handle.connection = nullptr;
    request->handle.body = nullptr;
    spare_.push_back(std::move(request));
}

} // namespace proxyd
