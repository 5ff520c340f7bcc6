// progress.hpp — defines Progress: a one-line progress bar on stderr (done / total, items per second, ETA),
// redrawn in place at most five times a second, and drawn only when stderr is a terminal.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace evaclip::eval {

class Progress {
 public:
  // `what` names the items ("images", "prompts"); a bar is drawn only when `enabled` and stderr is a tty.
  Progress(std::string what, std::int64_t total, bool enabled = true)
      : what_(std::move(what)), total_(total), enabled_(enabled && ::isatty(2) == 1), start_(Clock::now()) {}
  ~Progress() { finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(std::int64_t n) {
    done_ += n;
    const auto now = Clock::now();
    if (done_ < total_ && now - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = now;
    draw();
  }
  // Ends the line (also when an error interrupts the run, so the message starts on its own line).
  void finish() {
    if (!enabled_ || finished_) return;
    finished_ = true;
    if (drawn_ != done_) draw();
    std::fputc('\n', stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  double rate() const { return double(done_) / std::max(seconds(), 1e-9); }
  static std::string clock(double s) {
    const auto t = std::int64_t(s + 0.5);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(t / 3600),
                  static_cast<long long>(t / 60 % 60), static_cast<long long>(t % 60));
    return buf;
  }
  void draw() {
    if (!enabled_) return;
    drawn_ = done_;
    constexpr int width = 30;
    const double frac = total_ > 0 ? double(done_) / double(total_) : 1.0;
    const int filled = int(frac * width);
    const double r = rate();
    const std::string eta = r > 0 && done_ < total_ ? clock(double(total_ - done_) / r) : "-";
    std::fprintf(stderr, "\r%s [%s%s] %lld/%lld %.1f %s/s ETA %s elapsed %s ", what_.c_str(),
                 std::string(std::size_t(filled), '#').c_str(), std::string(std::size_t(width - filled), '.').c_str(),
                 static_cast<long long>(done_), static_cast<long long>(total_), r, what_.c_str(), eta.c_str(),
                 clock(seconds()).c_str());
    std::fflush(stderr);
  }

  std::string what_;
  std::int64_t total_, done_ = 0, drawn_ = -1;
  bool enabled_, finished_ = false;
  Clock::time_point start_, last_draw_{};
};

}  // namespace evaclip::eval
