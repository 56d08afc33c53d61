#include "root_dir.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <linux/openat2.h>
#include <memory>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437 // one number on every architecture; older libc headers lack the name
#endif

namespace proxyd::static_files {
namespace {

// O_NONBLOCK so that opening a FIFO someone left under the root cannot hang the worker; it changes
// nothing for regular files. O_NOCTTY for the same reason with terminals.
constexpr int kOpenFlags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;

int openat2_beneath(int dir_fd, const char *path, bool follow_symlinks) {
    open_how how{};
    how.flags = kOpenFlags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (follow_symlinks ? 0 : RESOLVE_NO_SYMLINKS);
    // EAGAIN means a concurrent rename or mount raced the lookup; it is safe to try again.
    for (int attempt = 0;; ++attempt) {
        long fd = syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
        if (fd >= 0) return static_cast<int>(fd);
        if (errno != EAGAIN || attempt == 3) return -errno;
    }
}

} // namespace

int RootDirectory::open(const std::string &path, bool force_fallback, Symlinks symlinks) {
    symlinks_ = symlinks;
    UniqueFd fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return errno;
    std::unique_ptr<char, decltype(&std::free)> canonical(realpath(path.c_str(), nullptr), &std::free);
    if (!canonical) return errno;

    mode_ = Mode::Openat2;
    if (force_fallback) {
        mode_ = Mode::Realpath;
    } else {
        // Probe once, here, so the instance stays immutable once workers share it. ENOSYS: a kernel
        // before 5.6; EPERM: a seccomp filter that does not know the call.
        int probe = openat2_beneath(fd.get(), ".", true);
        if (probe >= 0)
            ::close(probe);
        else if (probe == -ENOSYS || probe == -EPERM)
            mode_ = Mode::Realpath;
    }
    fd_ = std::move(fd);
    path_ = canonical.get();
    return 0;
}

int RootDirectory::open_beneath(const std::string &relative) const {
    if (mode_ == Mode::Openat2)
        return openat2_beneath(fd_.get(), relative.c_str(), symlinks_ == Symlinks::InsideRoot);
    return open_with_realpath(relative);
}

int RootDirectory::open_with_realpath(const std::string &relative) const {
    // Weaker than openat2: a symlink swapped in between realpath() and open() is not caught
    // (O_NOFOLLOW covers only the last component). Good enough for kernels without openat2.
    std::string joined = (path_ == "/" ? "" : path_) + "/" + relative;
    std::unique_ptr<char, decltype(&std::free)> resolved(realpath(joined.c_str(), nullptr), &std::free);
    if (!resolved) return -errno;
    std::string_view target(resolved.get());
    const bool inside = target == path_ || (target.starts_with(path_) && target.size() > path_.size() &&
                                            (path_ == "/" || target[path_.size()] == '/'));
    if (!inside) return -EXDEV;
    // The relative path is already normalised (no '.', '..' or repeated '/'), so without any
    // symlink on the way realpath() gives back exactly the joined text.
    if (symlinks_ == Symlinks::Never) {
        std::string_view lexical = relative == "." ? std::string_view(path_) : std::string_view(joined);
        if (lexical.size() > 1 && lexical.ends_with('/')) lexical.remove_suffix(1);
        if (target != lexical) return -ELOOP;
    }
    int fd = ::open(resolved.get(), kOpenFlags | O_NOFOLLOW);
    return fd >= 0 ? fd : -errno;
}

} // namespace proxyd::static_files
