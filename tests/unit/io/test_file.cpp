// Tests of the POSIX file layer (include/evaclip/io/file.hpp): AtomicFileWriter's header rewrite
// (write_at), an abandoned write leaving nothing behind, and write_all reporting a refused write.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/file_size_limit.hpp"
#include "common/temp_dir.hpp"
#include "common/test_util.hpp"
#include "evaclip/io/file.hpp"

using namespace evaclip;
namespace fs = std::filesystem;

namespace {
class FileIo : public test::TempDirTest {
 protected:
  std::string contents(const fs::path& p) const {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
};
}  // namespace

TEST_F(FileIo, WriteAtRewritesBytesAlreadyWritten) {
  const fs::path p = dir_ / "out.bin";
  {
    io::AtomicFileWriter w(p.string(), "test");
    w.write("header:????|", 12);
    const std::string big(3 << 20, 'd');  // past the buffer: written directly
    w.write(big.data(), big.size());
    w.write_at(7, "done", 4);
    w.write("|end", 4);
    w.commit();
  }
  const std::string got = contents(p);
  EXPECT_EQ(got.size(), 12u + (3u << 20) + 4u);
  EXPECT_EQ(got.substr(0, 12), "header:done|");
  EXPECT_EQ(got.substr(got.size() - 4), "|end");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(FileIo, AnUncommittedWriteLeavesTheTargetAndNoTemporary) {
  const fs::path p = dir_ / "out.bin";
  std::ofstream(p) << "old";
  {
    io::AtomicFileWriter w(p.string(), "test");
    w.write("new", 3);
  }
  EXPECT_EQ(contents(p), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(FileIo, WriteAllReportsARefusedWrite) {
  const fs::path p = dir_ / "limited.bin";
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  ASSERT_GE(fd, 0);
  const std::string data(4096, 'x');
  {
    const test::FileSizeLimit limit(1000);
    EXPECT_FALSE(io::write_all(fd, data.data(), data.size()));  // 1000 bytes go, then EFBIG
    EXPECT_EQ(errno, EFBIG);
  }
  ::close(fd);
  EXPECT_EQ(fs::file_size(p), 1000u);
}
