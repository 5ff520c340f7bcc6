// file_size_limit.hpp — defines test::FileSizeLimit: while alive, this process may not grow a file past a
// given size, and a write that would fails with EFBIG (a full disk as the OS really reports one, without root).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

namespace evaclip::test {

// Lowers the soft RLIMIT_FSIZE (raising it back needs no privilege) and ignores SIGXFSZ, whose default action
// would kill the process instead of failing the write; the destructor restores both. In-process rather than
// in a forked child: libgomp's thread pool does not survive fork, and the code under test runs OpenMP.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    EXPECT_EQ(::getrlimit(RLIMIT_FSIZE, &saved_), 0);
    handler_ = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = saved_;
    small.rlim_cur = bytes;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  struct rlimit saved_ {};
  sighandler_t handler_ = SIG_DFL;
};

}  // namespace evaclip::test
