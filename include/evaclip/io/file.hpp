// file.hpp — defines MappedFile (a whole file mapped into memory, never written back), AtomicFileWriter
// (writes <path>.tmp.<pid>, fsyncs it and renames it over <path>) and write_all (every byte or an errno): the
// POSIX layer under checkpoint and log I/O.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "evaclip/core/error.hpp"

namespace evaclip::io {

inline std::string errno_message(int err) { return std::error_code(err, std::generic_category()).message(); }

// Writes all n bytes to fd (at offset `at` when it is not negative, else at the file position), retrying
// short writes and EINTR. False with errno set when the system refuses (ENOSPC, EIO, EFBIG, ...).
inline bool write_all(int fd, const void* data, std::size_t n, off_t at = -1) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const std::size_t chunk = std::min<std::size_t>(n, std::size_t(1) << 30);
    const ssize_t w = at < 0 ? ::write(fd, p, chunk) : ::pwrite(fd, p, chunk, at);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = EIO;  // no progress and no error code: do not loop forever
      return false;
    }
    p += w;
    n -= std::size_t(w);
    if (at >= 0) at += w;
  }
  return true;
}

// A regular file mapped whole. The file is opened read-only and never changed; the mapping is private
// copy-on-write, so a Tensor viewing it may be written (that page becomes a private copy) instead of
// faulting. Held by shared_ptr: every Tensor view keeps the mapping alive. Truncating the file while it is
// mapped is undefined (SIGBUS); writers that replace files by rename, as AtomicFileWriter does, are safe.
class MappedFile {
 public:
  static std::shared_ptr<const MappedFile> open(const std::string& path, const char* op) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // O_NONBLOCK: a FIFO fails, not hangs
    if (fd < 0) fail(op, ": cannot open ", path, ": ", errno_message(errno));
    struct stat st {};
    const bool stat_ok = ::fstat(fd, &st) == 0;
    if (!stat_ok || !S_ISREG(st.st_mode)) {
      const std::string why = stat_ok ? "not a regular file" : errno_message(errno);
      ::close(fd);
      fail(op, ": cannot read ", path, ": ", why);
    }
    const auto size = std::size_t(st.st_size);
    void* data = nullptr;
    if (size > 0) {  // mmap rejects a zero length; an empty file maps to nothing
      data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
      if (data == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        fail(op, ": cannot map ", path, " (", size, " bytes): ", errno_message(err));
      }
    }
    ::close(fd);  // the mapping stays valid without the descriptor
    return std::shared_ptr<const MappedFile>(new MappedFile(path, static_cast<std::byte*>(data), size));
  }
  ~MappedFile() {
    if (size_ > 0) ::munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, std::byte* data, std::size_t size) : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  std::byte* data_;
  std::size_t size_;
};

// Writes a file so that readers see either the old content or the complete new one: bytes go to
// <path>.tmp.<pid>, commit() fsyncs, closes and renames it over <path>. Destroyed without commit() (an
// exception on the way), it removes the temporary file and leaves <path> untouched.
class AtomicFileWriter {
 public:
  AtomicFileWriter(std::string path, const char* op)
      : path_(std::move(path)), tmp_(path_ + ".tmp." + std::to_string(::getpid())), op_(op) {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd_ < 0) fail(op_, ": cannot create ", tmp_, " to write ", path_, ": ", errno_message(errno));
    buffer_.reserve(buffer_bytes);
  }
  ~AtomicFileWriter() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, std::size_t n) {
    const auto* p = static_cast<const char*>(data);
    if (buffer_.size() + n > buffer_bytes) flush();
    if (n >= buffer_bytes) return write_unbuffered(p, n);  // large blocks skip the buffer
    buffer_.insert(buffer_.end(), p, p + n);
  }
  // Overwrites n bytes written before, at `offset` from the start (a header completed after its data).
  void write_at(std::uint64_t offset, const void* data, std::size_t n) {
    flush();
    if (!io::write_all(fd_, data, n, off_t(offset))) fail_io("write");
  }

  void commit() {
    flush();
    if (::fsync(fd_) != 0) fail_io("fsync");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail_io("close");
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail_io("rename");
    committed_ = true;
    // Make the rename itself durable. Best effort: the new file is already in place, so failing here
    // would report an error for a write that happened.
    const auto slash = path_.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

 private:
  static constexpr std::size_t buffer_bytes = std::size_t(1) << 20;

  [[noreturn]] void fail_io(const char* what) const {
    fail(op_, ": ", what, " failed writing ", path_, " (via ", tmp_, "): ", errno_message(errno));
  }
  void flush() {
    write_unbuffered(buffer_.data(), buffer_.size());
    buffer_.clear();
  }
  void write_unbuffered(const char* p, std::size_t n) {
    if (!io::write_all(fd_, p, n)) fail_io("write");
  }

  std::string path_, tmp_;
  const char* op_;
  int fd_ = -1;
  bool committed_ = false;
  std::vector<char> buffer_;
};

}  // namespace evaclip::io
