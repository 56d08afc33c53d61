// routing/prefix: maps a request to an upstream group or content handler by its host (virtual
// hosts, host_routes.hpp) and the longest matching path prefix, optionally stripping that prefix
// from the path the target sees.
#include "host_routes.hpp"
#include "prefix_table.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <proxyd/plugin.hpp>
#include <string>

namespace proxyd::prefix {
namespace {

using sdk::Config;

// The target named by exactly one of 'upstream' and 'handler' in table (a route or 'default').
// what names the table in messages: "route '/images/'", "'default'".
std::optional<uint32_t> parse_target(const Config &table, const std::string &what) {
    Config upstream = table.child("upstream");
    Config handler = table.child("handler");
    if (upstream.present() && handler.present()) {
        handler.error(what + " names both 'upstream' and 'handler': give exactly one");
        return std::nullopt;
    }
    if (!upstream.present() && !handler.present()) {
        table.error(what + " needs a target: upstream = \"GROUP\" or handler = \"NAME\"");
        return std::nullopt;
    }
    const bool is_upstream = upstream.present();
    const Config &node = is_upstream ? upstream : handler;
    std::optional<std::string_view> name = node.as_string(is_upstream ? "upstream" : "handler");
    if (!name) return std::nullopt;
    return node.resolve_target(is_upstream ? PROXYD_TARGET_UPSTREAM : PROXYD_TARGET_HANDLER, *name);
}

class PrefixRouter {
  public:
    static std::unique_ptr<PrefixRouter> create(Config &config) {
        auto router = std::make_unique<PrefixRouter>();
        config.check_keys({"routes", "default"});

        Config routes = config.child("routes");
        if (!routes.present())
            config.error("'routes' is required: an array of { prefix = \"/path/\", upstream = \"GROUP\" } "
                         "or { prefix = \"/path/\", handler = \"NAME\" }");
        else if (routes.type() != PROXYD_CONFIG_ARRAY)
            routes.error("'routes' must be an array of tables");
        else if (routes.elements().empty())
            routes.error("'routes' is empty: add at least one route");
        for (const Config &entry : routes.elements())
            router->parse_route(entry);

        Config fallback = config.child("default");
        if (fallback.present()) {
            if (fallback.type() != PROXYD_CONFIG_TABLE) {
                fallback.error(
                    "'default' must be a table: { upstream = \"GROUP\" } or { handler = \"NAME\" }");
            } else {
                fallback.check_keys({"upstream", "handler"});
                router->default_target_ = parse_target(fallback, "'default'");
            }
        }
        return router;
    }

    proxyd_route_result route(void *, const sdk::Request &request, proxyd_route &out) const {
        const std::string_view path = request.path();
        out.rewritten_path = proxyd_str{nullptr, 0};
        PrefixMatch found = routes_.find(request.host(), path);
        if (found.add_slash) return redirect_with_slash(request, out);
        const PrefixRoute *match = found.route;
        if (!match) {
            if (!default_target_) return PROXYD_ROUTE_DECLINE;
            out.target = *default_target_;
            return PROXYD_ROUTE_MATCH;
        }
        out.target = match->target;
        if (!match->strip_prefix) return PROXYD_ROUTE_MATCH;

        StrippedPath stripped = strip_prefix(path, match->prefix);
        if (!stripped.needs_leading_slash) {
            if (stripped.text.size() != path.size()) out.rewritten_path = sdk::str(stripped.text);
            return PROXYD_ROUTE_MATCH;
        }
        char *copy = request.alloc(stripped.text.size() + 1);
        // A route hook cannot report an internal error; declining is what the SDK does on failure too.
        if (!copy) return PROXYD_ROUTE_DECLINE;
        copy[0] = '/';
        stripped.text.copy(copy + 1, stripped.text.size());
        out.rewritten_path = proxyd_str{copy, stripped.text.size() + 1};
        return PROXYD_ROUTE_MATCH;
    }

  private:
    // "/images" to "/images/", the query kept: a path relative to the request's own authority,
    // which RFC 9110 §10.2.2 allows and which stays right behind TLS or another proxy.
    static proxyd_route_result redirect_with_slash(const sdk::Request &request, proxyd_route &out) {
        const std::string_view path = request.path(), query = request.query();
        const size_t size = path.size() + 1 + (query.empty() ? 0 : 1 + query.size());
        char *location = request.alloc(size);
        if (!location) return PROXYD_ROUTE_DECLINE;
        char *end = std::copy(path.begin(), path.end(), location);
        *end++ = '/';
        if (!query.empty()) {
            *end++ = '?';
            std::copy(query.begin(), query.end(), end);
        }
        out.location = proxyd_str{location, size};
        return PROXYD_ROUTE_REDIRECT;
    }

    void parse_route(const Config &entry) {
        if (entry.type() != PROXYD_CONFIG_TABLE) {
            entry.error("each route must be a table: { prefix = \"/path/\", upstream = \"GROUP\" }");
            return;
        }
        entry.check_keys({"host", "prefix", "upstream", "handler", "strip_prefix"});

        Config host_node = entry.child("host");
        std::string host; // any host
        bool host_ok = true;
        if (host_node.present()) {
            std::optional<std::string_view> pattern = host_node.as_string("host");
            std::string problem = pattern ? host_pattern_problem(*pattern) : std::string();
            host_ok = pattern && problem.empty();
            if (!problem.empty()) host_node.error(problem);
            if (host_ok) host = normalise_host_pattern(*pattern);
        }

        Config prefix_node = entry.child("prefix");
        std::optional<std::string_view> prefix = prefix_node.as_string("prefix");
        bool prefix_ok = false;
        if (!prefix_node.present()) {
            entry.error("route needs a 'prefix', e.g. prefix = \"/images/\"");
        } else if (prefix) {
            std::string problem = prefix_problem(*prefix);
            if (problem.empty())
                prefix_ok = true;
            else
                prefix_node.error(problem);
        }
        std::optional<bool> strip = entry.boolean("strip_prefix");
        // With hosts, several routes may share a prefix; "api.example.com/v1/" says which one.
        std::optional<uint32_t> target = parse_target(
            entry, prefix ? "route '" + host + std::string(*prefix) + "'" : std::string("route"));

        // Added even when the target failed, so a duplicate is still reported in the same run.
        if (prefix_ok && host_ok &&
            !routes_.add(host, {std::string(*prefix), target.value_or(0), strip.value_or(false)}))
            prefix_node.error("duplicate prefix '" + std::string(*prefix) + "'" +
                              (host.empty() ? std::string() : " for host '" + host + "'") +
                              ": an earlier route already has it");
    }

    HostRoutes routes_;
    std::optional<uint32_t> default_target_;
};

} // namespace
} // namespace proxyd::prefix

PROXYD_ROUTING_PLUGIN(proxyd::prefix::PrefixRouter, "prefix", "0.1.0")
