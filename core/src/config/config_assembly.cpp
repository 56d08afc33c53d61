#include "config/config_assembly.hpp"

#include <algorithm>
#include <filesystem>
#include <glob.h>
#include <map>

namespace fs = std::filesystem;

namespace proxyd {

namespace {

std::string position(const toml::source_region &src, const std::string &file) {
    return (src.path ? *src.path : file) + ":" + std::to_string(src.begin.line) + ":" +
           std::to_string(src.begin.column);
}

bool has_glob_chars(const std::string &pattern) { return pattern.find_first_of("*?[") != std::string::npos; }

class Assembler {
  public:
    explicit Assembler(std::vector<std::string> &errors) : errors_(errors) {}

    std::shared_ptr<toml::table> run(const std::string &path) {
        auto document = std::make_shared<toml::table>();
        std::string absolute = fs::absolute(path).lexically_normal().string();
        if (!parse(absolute, *document)) return nullptr;
        stack_.push_back(canonical(absolute));
        expand_includes(*document, absolute);
        stack_.pop_back();
        if (!errors_.empty()) return nullptr;
        apply_defaults(*document, absolute);
        if (!errors_.empty()) return nullptr;
        return document;
    }

  private:
    static std::string canonical(const std::string &path) {
        std::error_code ec;
        auto c = fs::weakly_canonical(path, ec);
        return ec ? path : c.string();
    }

    bool parse(const std::string &path, toml::table &out) {
        try {
            out = toml::parse_file(path);
            return true;
        } catch (const toml::parse_error &e) {
            errors_.push_back(position(e.source(), path) + ": " + std::string(e.description()));
            return false;
        }
    }

    void error(const toml::node &node, const std::string &file, const std::string &key,
               const std::string &what) {
        errors_.push_back(position(node.source(), file) + ": " + key + ": " + what);
    }

    struct IncludedFile {
        std::string path;
        std::string named_at; // the position of the include entry that names it
    };

    // The files an include names, in order.
    std::vector<IncludedFile> included_files(const toml::node &include, const std::string &file) {
        std::vector<const toml::node *> patterns;
        if (include.is_string()) {
            patterns.push_back(&include);
        } else if (const auto *array = include.as_array()) {
            for (const toml::node &p : *array)
                patterns.push_back(&p);
        } else {
            error(include, file, "include", "must be a file name or an array of them (globs allowed)");
            return {};
        }
        std::vector<IncludedFile> files;
        fs::path folder = fs::path(file).parent_path();
        for (const toml::node *p : patterns) {
            auto text = p->value<std::string>();
            if (!text || !p->is_string()) {
                error(*p, file, "include", "each entry must be a string (a file name or a glob)");
                continue;
            }
            fs::path pattern(*text);
            std::string full =
                (pattern.is_relative() ? folder / pattern : pattern).lexically_normal().string();
            if (!has_glob_chars(*text)) {
                std::error_code ec;
                if (!fs::is_regular_file(full, ec))
                    error(*p, file, "include", "\"" + *text + "\": no such file (" + full + ")");
                else
                    files.push_back({full, position(p->source(), file)});
                continue;
            }
            glob_t matches{};
            int rc = ::glob(full.c_str(), 0, nullptr, &matches); // sorted by glob(3)
            if (rc == 0)
                for (size_t i = 0; i < matches.gl_pathc; ++i) {
                    // A folder or a device a glob happens to match is not a config fragment.
                    std::error_code ec;
                    if (fs::is_regular_file(matches.gl_pathv[i], ec))
                        files.push_back({matches.gl_pathv[i], position(p->source(), file)});
                }
            else if (rc != GLOB_NOMATCH)
                error(*p, file, "include", "\"" + *text + "\": cannot be expanded");
            ::globfree(&matches);
        }
        return files;
    }

    void expand_includes(toml::table &document, const std::string &file) {
        const toml::node *include = document.get("include");
        if (!include) return;
        std::vector<IncludedFile> files = included_files(*include, file);
        document.erase("include");
        for (const auto &[path, named_at] : files) {
            std::string id = canonical(path);
            if (std::find(stack_.begin(), stack_.end(), id) != stack_.end()) {
                errors_.push_back(named_at + ": include: \"" + path + "\" includes itself (through " +
                                  std::to_string(stack_.size()) + " file(s))");
                continue;
            }
            // Read twice, a file would define each of its tables twice; saying so names the two
            // includes, where "defined again" would name the same line twice.
            auto [earlier, first_time] = included_at_.emplace(id, named_at);
            if (!first_time) {
                errors_.push_back(named_at + ": include: \"" + path + "\" is already included at " +
                                  earlier->second + "; a file is included once");
                continue;
            }
            if (stack_.size() >= kMaxIncludeDepth) {
                errors_.push_back(named_at + ": include: \"" + path + "\": includes nest deeper than " +
                                  std::to_string(kMaxIncludeDepth) + " files");
                continue;
            }
            toml::table fragment;
            if (!parse(path, fragment)) continue;
            stack_.push_back(id);
            expand_includes(fragment, path);
            stack_.pop_back();
            merge(document, fragment, "", file);
        }
    }

    // Moves from's keys into into. Top-level tables merge; [[listeners]] and other arrays of
    // tables append; anything else defined on both sides is an error naming both.
    void merge(toml::table &into, toml::table &from, const std::string &prefix, const std::string &file) {
        for (auto &&[key, value] : from) {
            std::string name =
                prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
            toml::node *existing = into.get(key.str());
            if (!existing) {
                into.insert(key, std::move(value));
                continue;
            }
            if (prefix.empty() && existing->is_table() && value.is_table()) {
                merge(*existing->as_table(), *value.as_table(), name, file);
            } else if (existing->is_array_of_tables() && value.is_array_of_tables()) {
                for (auto &&element : *value.as_array())
                    existing->as_array()->push_back(std::move(element));
            } else {
                error(value, file, name,
                      "defined again; it is already defined at " + position(existing->source(), file));
            }
        }
    }

    void apply_defaults(toml::table &document, const std::string &file) {
        const toml::node *node = document.get("defaults");
        if (!node) return;
        const toml::table *defaults = node->as_table();
        if (!defaults) {
            error(*node, file, "defaults",
                  "must be a table of [defaults.upstream], [defaults.handler], [defaults.listener]");
            return;
        }
        for (auto &&[kind, values] : *defaults) {
            std::string key = "defaults." + std::string(kind.str());
            const toml::table *fill = values.as_table();
            if (!fill) {
                error(values, file, key, "must be a table of keys to fill in");
                continue;
            }
            std::string_view k = kind.str();
            if (k == "upstream" || k == "handler") {
                auto *entries = document[k == "upstream" ? "upstreams" : "handlers"].as_table();
                if (!entries) continue;
                for (auto &&[name, entry] : *entries)
                    if (auto *t = entry.as_table()) fill_in(*t, *fill, k, file);
            } else if (k == "listener") {
                auto *listeners = document["listeners"].as_array();
                if (!listeners) continue;
                for (auto &&entry : *listeners)
                    if (auto *t = entry.as_table()) fill_in(*t, *fill, k, file);
            } else {
                errors_.push_back(position(kind.source(), file) + ": " + key +
                                  ": unknown kind; defaults apply to upstream, handler or listener");
            }
        }
        document.erase("defaults");
    }

    // toml++ copies a node without its source position, and a filled-in value must keep its
    // place in [defaults] so that an error about it points there. So each value is moved out of
    // a fresh parse of the file it was written in.
    void fill_in(toml::table &entry, const toml::table &defaults, std::string_view kind,
                 const std::string &file) {
        std::map<std::string, toml::table> fresh; // file -> parsed anew for this entry
        for (auto &&[key, value] : defaults) {
            if (entry.contains(key.str())) continue;
            std::string source = value.source().path ? *value.source().path : file;
            auto it = fresh.find(source);
            if (it == fresh.end()) {
                toml::table parsed;
                if (!parse(source, parsed)) return;
                it = fresh.emplace(source, std::move(parsed)).first;
            }
            toml::node *original = it->second["defaults"][kind][key.str()].node();
            if (original)
                entry.insert(key, std::move(*original));
            else
                entry.insert(key, value); // not where it was read from (the file changed meanwhile)
        }
    }

    std::vector<std::string> &errors_;
    std::vector<std::string> stack_; // canonical paths of the files being read, outermost first
    std::map<std::string, std::string> included_at_; // canonical path -> where it was first included
};

} // namespace

std::shared_ptr<toml::table> assemble_config(const std::string &path, std::vector<std::string> &errors) {
    return Assembler(errors).run(path);
}

} // namespace proxyd
