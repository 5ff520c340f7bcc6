// train_log.hpp — defines TrainLog (one JSON record per step, appended to a .jsonl file) and Progress (the
// live progress line: step, loss, lr, samples/s, ETA).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "evaclip/io/file.hpp"

namespace evaclip::train {

// Appends records, each line in one write(2), so a crash loses at most the line being written, and a
// refused write (a full disk, EIO, a file-size limit) is an error naming the file that stops the run. Opened
// for a resume at step k, it first drops the records after k (they belong to the run that did not survive)
// and any torn last line, rewriting the file atomically, so the log always reads as one run.
class TrainLog {
 public:
  TrainLog(const std::string& path, std::int64_t resume_step) : path_(path) {
    std::string kept;
    if (std::ifstream in(path); in) {
      for (std::string line; std::getline(in, line);) {
        const auto rec = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (rec.is_object() && rec.value("step", std::int64_t(-1)) >= 0 && rec["step"].get<std::int64_t>() <= resume_step)
          kept += line + "\n";
      }
    }
    io::AtomicFileWriter w(path, "train log");
    w.write(kept.data(), kept.size());
    w.commit();
    fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    EVACLIP_CHECK(fd_ >= 0, "train log ", path, ": cannot open for appending: ", io::errno_message(errno));
  }
  ~TrainLog() { ::close(fd_); }
  TrainLog(const TrainLog&) = delete;
  TrainLog& operator=(const TrainLog&) = delete;

  void write(const nlohmann::json& record) {
    const std::string line = record.dump() + '\n';
    EVACLIP_CHECK(io::write_all(fd_, line.data(), line.size()), "train log ", path_,
                  ": write failed: ", io::errno_message(errno));
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// On a terminal the line redraws in place; in a pipe or a CI log it prints every `every` steps.
class Progress {
 public:
  Progress(std::int64_t total_steps, std::int64_t start_step, std::int64_t batch_size, bool quiet = false)
      : total_(total_steps), start_(start_step), batch_(batch_size), quiet_(quiet), tty_(::isatty(2) != 0),
        every_(std::max<std::int64_t>(1, total_steps / 50)), t0_(Clock::now()) {}

  double samples_per_s(std::int64_t step) const {
    const double secs = elapsed_s();
    return secs > 0 ? double((step - start_) * batch_) / secs : 0.0;
  }
  double elapsed_s() const { return std::chrono::duration<double>(Clock::now() - t0_).count(); }
  double eta_s(std::int64_t step) const {
    const double rate = samples_per_s(step);
    return rate > 0 ? double((total_ - step) * batch_) / rate : 0.0;
  }
  // step counts completed steps (1-based).
  void update(std::int64_t step, double loss, double lr) const {
    if (quiet_ || (!tty_ && step % every_ != 0 && step != total_)) return;
    const double eta = eta_s(step);
    std::fprintf(stderr, "%sstep %lld/%lld  loss %.4f  lr %.3e  %.1f samples/s  ETA %dm%02ds%s", tty_ ? "\r" : "",
                 static_cast<long long>(step), static_cast<long long>(total_), loss, lr, samples_per_s(step),
                 int(eta) / 60, int(eta) % 60, tty_ ? (step == total_ ? "\n" : "") : "\n");
    std::fflush(stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::int64_t total_, start_, batch_;
  bool quiet_, tty_;
  std::int64_t every_;
  Clock::time_point t0_;
};

}  // namespace evaclip::train
