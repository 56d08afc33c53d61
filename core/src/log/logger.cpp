#include "log/logger.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace proxyd {

LogFile::~LogFile() {
    if (owned_ && fd_ >= 0) ::close(fd_);
}

bool LogFile::open(const std::string &where, std::string &error) {
    if (where == "off") return true;
    if (where == "stderr") {
        fd_ = STDERR_FILENO;
        return true;
    }
    fd_ = ::open(where.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        error = where + ": cannot open log file: " + std::strerror(errno);
        return false;
    }
    path_ = where;
    owned_ = true;
    return true;
}

std::string LogFile::check_path(const std::string &path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return path + ": a folder, not a file";
        if (::access(path.c_str(), W_OK) != 0) return path + ": cannot write to it: " + std::strerror(errno);
        return {};
    }
    if (errno != ENOENT) return path + ": " + std::strerror(errno);
    std::string folder = path.substr(0, path.find_last_of('/') + 1);
    if (folder.empty()) folder = ".";
    if (::access(folder.c_str(), W_OK) != 0)
        return path + ": cannot create it in " + folder + ": " + std::strerror(errno);
    return {};
}

bool LogFile::reopen(std::string &error) {
    if (!owned_) return true;
    int fresh = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fresh < 0) {
        error = path_ + ": cannot reopen log file: " + std::strerror(errno);
        return false;
    }
    // dup2 swaps the file under fd_ atomically: a write on another thread goes wholly to the old
    // or wholly to the new file. dup2 clears FD_CLOEXEC on fd_, so set it again.
    if (::dup2(fresh, fd_) < 0) {
        error = path_ + ": cannot reopen log file: dup2: " + std::strerror(errno);
        ::close(fresh);
        return false;
    }
    ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
    ::close(fresh);
    return true;
}

void LogFile::write_line(std::string_view line) const {
    if (fd_ < 0) return;
    // A short write to a regular file or pipe is rare; finish it rather than lose the tail.
    while (!line.empty()) {
        ssize_t n = ::write(fd_, line.data(), line.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        line.remove_prefix(static_cast<size_t>(n));
    }
}

void Logger::log(proxyd_log_level level, std::string_view message) const {
    if (!enabled(level)) return;
    static constexpr const char *kNames[] = {"error", "warn", "info", "debug"};
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char stamp[32];
    size_t n = std::strftime(stamp, sizeof stamp, "%Y/%m/%d %H:%M:%S", &tm);
    std::string line;
    line.reserve(message.size() + 48);
    line.append(stamp, n).append(" [").append(kNames[level]).append("] ").append(message).append("\n");
    file_->write_line(line);
}

} // namespace proxyd
