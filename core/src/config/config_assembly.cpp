#include "config/config_assembly.hpp"

#include "tls/certificate_check.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
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

// The byte at which a toml++ column (counted in code points, from 1) starts; npos past the end.
size_t byte_of_column(std::string_view line, size_t column) {
    size_t at = 1;
    for (size_t i = 0; i < line.size(); ++i) {
        if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue; // UTF-8 continuation
        if (at++ == column) return i;
    }
    return at == column ? line.size() : std::string_view::npos;
}

// A document that holds only the value written at region of lines, as key "v", on the same line
// and column: parsed, it gives a value with the original's position. Empty when the region does
// not fit the lines (then the value is copied, without its position).
std::string document_of_value(const std::vector<std::string> &lines, const toml::source_region &region) {
    const toml::source_position &begin = region.begin, &end = region.end;
    if (begin.line < 1 || end.line < begin.line || end.line > lines.size() || begin.column < 3) return {};
    std::string text(begin.line - 1, '\n');
    text += "v" + std::string(begin.column - 3, ' ') + "=";
    for (size_t line = begin.line; line <= end.line; ++line) {
        std::string_view whole = lines[line - 1];
        size_t from = line == begin.line ? byte_of_column(whole, begin.column) : 0;
        size_t to = line == end.line ? byte_of_column(whole, end.column) : whole.size();
        if (from == std::string_view::npos || to == std::string_view::npos || to < from) return {};
        text.append(whole.substr(from, to - from));
        if (line != end.line) text += '\n';
    }
    return text + "\n";
}

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
        // toml++ reports a file it cannot open at 0:0 without the reason, and reads a folder as
        // an empty document.
        if (std::string problem = check_readable(path); !problem.empty()) {
            errors_.push_back(problem);
            return false;
        }
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
                    error(*p, file, "include",
                          "\"" + *text + "\": " + (fs::is_directory(full, ec) ? "a folder" : "no such file") +
                              " (" + full + ")");
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
                std::vector<DefaultValue> filled = prepare_defaults(*fill, file);
                for (auto &&[name, entry] : *entries)
                    if (auto *t = entry.as_table()) fill_in(*t, filled);
            } else if (k == "listener") {
                auto *listeners = document["listeners"].as_array();
                if (!listeners) continue;
                std::vector<DefaultValue> filled = prepare_defaults(*fill, file);
                for (auto &&entry : *listeners)
                    if (auto *t = entry.as_table()) fill_in(*t, filled);
            } else {
                errors_.push_back(position(kind.source(), file) + ": " + key +
                                  ": unknown kind; defaults apply to upstream, handler or listener");
            }
        }
        document.erase("defaults");
    }

    // A key of [defaults.KIND] and how to re-create its value for each entry it fills in.
    struct DefaultValue {
        toml::key key;
        const toml::node *value;
        std::string path;     // the file it was written in
        std::string document; // a document holding just it at its position (document_of_value)
    };

    // toml++ copies a node without its source position, and a filled-in value must keep its place
    // in [defaults] so that an error about it points there. So each entry gets the value parsed
    // anew from a document of its own, which holds that value alone at its line and column (a
    // parse of the whole file per entry would make a long config slow to load).
    std::vector<DefaultValue> prepare_defaults(const toml::table &defaults, const std::string &file) {
        std::vector<DefaultValue> values;
        for (auto &&[key, value] : defaults) {
            DefaultValue v{key, &value, value.source().path ? *value.source().path : file, {}};
            v.document = document_of_value(file_lines(v.path), value.source());
            // The file may have changed since it was parsed: use the document only when it gives
            // back the same value.
            toml::table original;
            original.insert("v", value);
            if (!v.document.empty() && parse_value(v) != original) v.document.clear();
            values.push_back(std::move(v));
        }
        return values;
    }

    toml::table parse_value(const DefaultValue &v) {
        try {
            return toml::parse(v.document, std::string_view(v.path));
        } catch (const toml::parse_error &) {
            return {};
        }
    }

    void fill_in(toml::table &entry, const std::vector<DefaultValue> &defaults) {
        for (const DefaultValue &d : defaults) {
            if (entry.contains(d.key.str())) continue;
            toml::table parsed = d.document.empty() ? toml::table{} : parse_value(d);
            if (toml::node *value = parsed.get("v"))
                entry.insert(d.key, std::move(*value));
            else
                entry.insert(d.key, *d.value);
        }
    }

    const std::vector<std::string> &file_lines(const std::string &path) {
        auto [it, added] = lines_.try_emplace(path);
        if (added) {
            std::ifstream in(path, std::ios::binary);
            for (std::string line; std::getline(in, line);)
                it->second.push_back(std::move(line));
        }
        return it->second;
    }

    std::vector<std::string> &errors_;
    std::vector<std::string> stack_; // canonical paths of the files being read, outermost first
    std::map<std::string, std::string> included_at_;        // canonical path -> where it was first included
    std::map<std::string, std::vector<std::string>> lines_; // file -> its lines, for prepare_defaults
};

} // namespace

std::shared_ptr<toml::table> assemble_config(const std::string &path, std::vector<std::string> &errors) {
    return Assembler(errors).run(path);
}

} // namespace proxyd
