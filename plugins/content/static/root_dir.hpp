// The folder a static site serves, and opening files strictly beneath it.
#ifndef PROXYD_PLUGINS_ROOT_DIR_HPP
#define PROXYD_PLUGINS_ROOT_DIR_HPP

#include "unique_fd.hpp"

#include <string>

namespace proxyd::static_files {

class RootDirectory {
  public:
    enum class Mode {
        Openat2, // the kernel resolves beneath the root, symlinks included (Linux >= 5.6)
        Realpath // fallback: resolve in user space, then check the prefix
    };

    enum class Symlinks {
        InsideRoot, // followed while they resolve beneath the root (the default)
        Never       // any symlink on the way is refused with ELOOP, even one pointing inside
    };

    // Opens path (absolute) as the root. Returns 0, or the errno explaining why it cannot serve as
    // one (ENOENT, ENOTDIR, EACCES...). force_fallback selects Realpath even where openat2 works,
    // so tests can cover both.
    int open(const std::string &path, bool force_fallback = false, Symlinks symlinks = Symlinks::InsideRoot);

    // Opens relative (no leading '/'; "." for the root itself) read-only beneath the root: no '..',
    // absolute symlink or magic link may lead outside. Returns the fd, or -errno (EXDEV or ELOOP
    // when the path would escape, ELOOP for any symlink under Symlinks::Never).
    int open_beneath(const std::string &relative) const;

    const std::string &path() const { return path_; }
    Mode mode() const { return mode_; }
    Symlinks symlinks() const { return symlinks_; }

  private:
    int open_with_realpath(const std::string &relative) const;

    UniqueFd fd_;      // O_PATH of the root
    std::string path_; // canonical (realpath) form
    Mode mode_ = Mode::Openat2;
    Symlinks symlinks_ = Symlinks::InsideRoot;
};

} // namespace proxyd::static_files

#endif
