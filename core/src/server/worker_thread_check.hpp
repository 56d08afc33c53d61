// The host calls about requests and worker waits belong to one worker's thread: a call from any
// other would race its loop. This refuses it (false) and logs it, naming the call; a debug build
// aborts instead, so a plugin's author finds the bug at once. One thread-id comparison.
// (Defined in request_host_calls.cpp.)
#pragma once

namespace proxyd {

class ExchangeWorker;

// True when the caller is worker's thread (or worker is null: a test host).
bool on_worker_thread(const ExchangeWorker *worker, const char *call);

} // namespace proxyd
