// What plugin.h's opaque proxyd_worker_handle is: the address of a member of the Worker, handed
// to plugins in proxyd_worker_info (create_worker_ex) and given back through worker_post. Valid
// as long as the worker, so until the plugin's destroy_worker returns.
#pragma once

namespace proxyd {
class Worker;
}

struct proxyd_worker_handle {
    proxyd::Worker *worker;
};
