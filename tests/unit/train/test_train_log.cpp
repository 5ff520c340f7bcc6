// Tests of the training log (include/evaclip/train/train_log.hpp): a write the system refuses (here a
// file-size limit, so write() fails with EFBIG as on a full disk) is an error naming the log file, and the
// records written before it stay whole.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/file_size_limit.hpp"
#include "common/temp_dir.hpp"
#include "common/test_util.hpp"
#include "evaclip/train/train_log.hpp"

using namespace evaclip;

class TrainLogFile : public test::TempDirTest {};

TEST_F(TrainLogFile, ARefusedWriteNamesTheLogFile) {
  const std::string path = (dir_ / "log.jsonl").string();
  {
    train::TrainLog log(path, 0);
    log.write({{"step", 1}, {"loss", 2.5}});
    const test::FileSizeLimit limit(std::filesystem::file_size(path) + 40);
    log.write({{"step", 2}});  // fits
    EXPECT_THROW_MSG(log.write({{"step", 3}, {"note", std::string(100, 'x')}}),
                     "train log " + path + ": write failed: File too large");
  }
  std::ifstream in(path);
  std::string first, second;
  std::getline(in, first), std::getline(in, second);
  EXPECT_EQ(first, R"({"loss":2.5,"step":1})");
  EXPECT_EQ(second, R"({"step":2})");
}
