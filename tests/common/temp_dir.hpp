// temp_dir.hpp — defines what the file-writing tests share: TempDirTest (a fresh folder per test, removed
// afterwards) and flip_byte (corrupts one byte of a file in place).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace evaclip::test {

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/evaclip_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // The folder's file names, sorted.
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  std::filesystem::path dir_;
};

// XORs the byte at `offset` of the file at `path` with `mask`.
inline void flip_byte(const std::string& path, std::uint64_t offset, unsigned char mask) {
  std::fstream io(path, std::ios::binary | std::ios::in | std::ios::out);
  char c = 0;
  io.seekg(std::streamoff(offset));
  io.read(&c, 1);
  c = char(c ^ char(mask));
  io.seekp(std::streamoff(offset));
  io.write(&c, 1);
  ASSERT_TRUE(io.good()) << "flip_byte: cannot rewrite byte " << offset << " of " << path;
}

}  // namespace evaclip::test
