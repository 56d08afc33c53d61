// A scratch folder of files for static-plugin tests, removed when the test ends.
#ifndef PROXYD_TESTS_PLUGINS_TEMP_TREE_HPP
#define PROXYD_TESTS_PLUGINS_TEMP_TREE_HPP

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace proxyd::test {

class TempTree {
  public:
    TempTree() {
        std::string pattern = (std::filesystem::temp_directory_path() / "proxyd-static-XXXXXX").string();
        if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        base_ = pattern;
    }
    ~TempTree() {
        std::error_code ignored;
        std::filesystem::remove_all(base_, ignored);
    }
    TempTree(const TempTree &) = delete;
    TempTree &operator=(const TempTree &) = delete;

    std::string path(const std::string &relative = "") const {
        return relative.empty() ? base_.string() : (base_ / relative).string();
    }
    void file(const std::string &relative, const std::string &content) const {
        std::filesystem::create_directories((base_ / relative).parent_path());
        std::ofstream(base_ / relative, std::ios::binary) << content;
    }
    void dir(const std::string &relative) const { std::filesystem::create_directories(base_ / relative); }
    void symlink(const std::string &target, const std::string &relative) const {
        std::filesystem::create_symlink(target, base_ / relative);
    }
    void fifo(const std::string &relative) const {
        if (mkfifo(path(relative).c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
    }

  private:
    std::filesystem::path base_;
};

} // namespace proxyd::test

#endif
