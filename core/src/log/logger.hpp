// The error log and the access log. Both write whole lines with one write(2) on an O_APPEND fd,
// so worker threads share them without a lock and lines never interleave. Reopening (SIGUSR1,
// after logrotate moved the file) dup2()s a fresh fd over the same number, so writers on other
// threads never see a closed or missing fd.
#pragma once

#include <proxyd/plugin.h>

#include <string>
#include <string_view>

namespace proxyd {

class LogFile {
  public:
    LogFile() = default;
    ~LogFile();
    LogFile(const LogFile &) = delete;
    LogFile &operator=(const LogFile &) = delete;

    // "stderr", "off" or a path. Returns false with error set when a file cannot be opened.
    bool open(const std::string &where, std::string &error);
    // Empty when open(path) would be expected to succeed (the file, or its folder, writable);
    // else why not. Creates nothing, so `proxyd -t` can check a log path.
    static std::string check_path(const std::string &path);
    bool enabled() const { return fd_ >= 0; }
    void write_line(std::string_view line) const; // line must end with '\n'
    // Opens the path again and puts the new file under the old fd number. A no-op for stderr
    // and "off". Main thread; returns false with error set, keeping the old file, on failure.
    bool reopen(std::string &error);

  private:
    std::string path_;
    int fd_ = -1;
    bool owned_ = false;
};

class Logger {
  public:
    explicit Logger(const LogFile &file, int level = PROXYD_LOG_INFO) : file_(&file), level_(level) {}
    void set_level(int level) { level_ = level; }
    bool enabled(proxyd_log_level level) const { return static_cast<int>(level) <= level_; }
    void log(proxyd_log_level level, std::string_view message) const;
    void error(std::string_view m) const { log(PROXYD_LOG_ERROR, m); }
    void warn(std::string_view m) const { log(PROXYD_LOG_WARN, m); }
    void info(std::string_view m) const { log(PROXYD_LOG_INFO, m); }
    void debug(std::string_view m) const { log(PROXYD_LOG_DEBUG, m); }

  private:
    const LogFile *file_;
    int level_;
};

} // namespace proxyd
