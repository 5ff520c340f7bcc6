// Tests safetensors I/O: round trips of every dtype (rank 0, empty, strided inputs, metadata), zero-copy
// views that outlive the reader, misaligned data, the reference fixture (read, and written byte for byte),
// one test per malformed-file case (one-line errors naming file and key), per-tensor checksums (damaged
// data, edited checksums, files without them), and atomic writes.
#include <stdlib.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "common/file_size_limit.hpp"
#include "common/temp_dir.hpp"
#include "common/test_util.hpp"
#include "evaclip/io/safetensors.hpp"

using namespace evaclip;
namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}
// A file image: the 8-byte length (the header's own unless `length` is given), the header, the data.
std::string file_bytes(const std::string& header, const std::string& data, std::uint64_t length = ~0ull) {
  const std::uint64_t n = length == ~0ull ? header.size() : length;
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

class Safetensors : public test::TempDirTest {
 protected:
  fs::path file(const std::string& name) const { return dir_ / name; }
  // Opens a crafted file and expects one line naming the file, `key` (when given) and `what`.
  void expect_rejected(const std::string& bytes, const std::string& what, const std::string& key = "") {
    const fs::path p = file("bad.safetensors");
    write_bytes(p, bytes);
    try {
      SafetensorsFile f(p.string());
      ADD_FAILURE() << "accepted a malformed file; expected: " << what;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
      EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
      if (!key.empty()) {
        EXPECT_NE(msg.find("'" + key + "'"), std::string::npos) << msg;
      }
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
};

// The tensors of tools/make_safetensors_fixture.py, built here.
std::map<std::string, Tensor> fixture_tensors() {
  return {{"f64", Tensor::from({2, 3}, DType::f64, std::vector<double>{-1, -0.5, 0, 0.5, 1, 1.5})},
          {"f32", Tensor::from({3}, DType::f32, std::vector<double>{0.5, -2.25, 1024})},
          {"f16", Tensor::from({2, 2}, DType::f16, std::vector<double>{1, -0.5, 65504, std::ldexp(1.0, -24)})},
          {"bf16", Tensor::from({5}, DType::bf16, std::vector<double>{1, -2, 0.5, 256, -0.125})},
          {"i64", Tensor::from({}, DType::i64, std::vector<std::int64_t>{(std::int64_t(1) << 40) + 7})},
          {"i32", Tensor::from({2, 1, 2}, DType::i32, std::vector<std::int64_t>{-3, 0, 7, 2147483647})},
          {"layer.0.empty", Tensor::zeros({0, 4}, DType::f32)}};
}
const fs::path fixture_path = fs::path(__FILE__).parent_path() / "../../data/safetensors/reference.safetensors";

const std::string one_f32 = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

// The header of a written file, as JSON, and the same file with its header replaced (data offsets kept).
nlohmann::json header_of(const std::string& bytes) {
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  return nlohmann::json::parse(bytes.substr(8, n));
}
std::string with_header(const std::string& bytes, const nlohmann::json& header) {
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  return file_bytes(header.dump(), bytes.substr(8 + n));
}

}  // namespace

TEST_F(Safetensors, RoundTripsEveryDtypeRankZeroEmptyStridedAndMetadata) {
  std::map<std::string, Tensor> in = {
      {"f64", test::randn({3, 4}, DType::f64, 1)},
      {"f32.strided", test::randn({4, 3}, DType::f32, 2).transpose(0, 1)},  // written contiguous
      {"bf16", test::randn({5}, DType::bf16, 3)},
      {"f16", test::randn({2, 3, 2}, DType::f16, 4)},
      {"i64", Tensor::from({3}, DType::i64, std::vector<std::int64_t>{INT64_MIN, -1, INT64_MAX})},
      {"i32", Tensor::from({2, 2}, DType::i32, std::vector<std::int64_t>{INT32_MIN, 0, 5, INT32_MAX})},
      {"scalar", Tensor::full({}, DType::f64, 3.25)},
      {"empty.a", Tensor::empty({0, 3}, DType::f32)},
      {"empty.b", Tensor::empty({2, 0}, DType::bf16)}};
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "é \"quoted\"\nline"}};
  const fs::path p = file("all.safetensors");
  save_safetensors(p.string(), in, meta);

  const SafetensorsFile f(p.string());
  EXPECT_EQ(f.metadata(), meta);
  std::vector<std::string> want_keys;
  for (const auto& kv : in) want_keys.push_back(kv.first);
  EXPECT_EQ(f.keys(), want_keys);
  for (const auto& [k, t] : in) {
    SCOPED_TRACE(k);
    const Tensor got = f.tensor(k);
    EXPECT_EQ(got.dtype(), t.dtype());
    EXPECT_EQ(got.shape(), t.shape());
    EXPECT_EQ(got.to_vector(), t.to_vector());  // bit-exact: every dtype widens to double exactly
  }
  const std::string bytes = read_bytes(p);
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  const std::string header = bytes.substr(8, n);
  const auto last = header.find_last_not_of(' ');  // padded with fewer than 8 spaces
  EXPECT_EQ(header[last], '}');
  EXPECT_LT(header.size() - last - 1, 8u);
  const Tensor i64 = f.tensor("i64");  // exact beyond double precision
  EXPECT_EQ(i64.data<std::int64_t>()[0], INT64_MIN);
  EXPECT_EQ(i64.data<std::int64_t>()[2], INT64_MAX);
}

TEST_F(Safetensors, ViewsShareTheMappingAndOutliveTheReader) {
  const fs::path p = file("v.safetensors");
  save_safetensors(p.string(), {{"a", Tensor::from({2, 2}, DType::f32, std::vector<double>{1, 2, 3, 4})},
                                {"b", Tensor::from({3}, DType::i64, std::vector<double>{7, 8, 9})}});
  Tensor a, b;
  {
    const SafetensorsFile f(p.string());
    a = f.tensor("a");
    b = f.tensor("b");
    EXPECT_EQ(a.raw(), static_cast<const void*>(f.bytes("a").data()));  // no copy
    EXPECT_EQ(b.raw(), static_cast<const void*>(f.bytes("b").data()));
  }
  fs::remove(p);  // the mapping, not the name, keeps the data
  EXPECT_EQ(a.to_vector(), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(b.to_vector(), (std::vector<double>{7, 8, 9}));
  EXPECT_EQ(a.transpose(0, 1).contiguous().to_vector(), (std::vector<double>{1, 3, 2, 4}));
}

TEST_F(Safetensors, WritingAViewNeverChangesTheFile) {
  const fs::path p = file("w.safetensors");
  save_safetensors(p.string(), {{"a", Tensor::full({4}, DType::f32, 1.0)}});
  const std::string before = read_bytes(p);
  const SafetensorsFile f(p.string());
  Tensor a = f.tensor("a");
  a.fill_(5.0);  // copy-on-write page
  EXPECT_EQ(a.to_vector(), (std::vector<double>{5, 5, 5, 5}));
  EXPECT_EQ(read_bytes(p), before);
  EXPECT_EQ(SafetensorsFile(p.string()).tensor("a").to_vector(), (std::vector<double>{1, 1, 1, 1}));
}

TEST_F(Safetensors, ConvertedCopiesAreOwnedAndRounded) {
  const fs::path p = file("c.safetensors");
  save_safetensors(p.string(), {{"h", Tensor::from({3}, DType::f16, std::vector<double>{0.5, -1, 2048})},
                                {"d", Tensor::from({2}, DType::f64, std::vector<double>{1.0 + 1e-9, 3.0})}});
  const SafetensorsFile f(p.string());
  const Tensor h = f.tensor("h", DType::f32);
  EXPECT_EQ(h.dtype(), DType::f32);
  EXPECT_EQ(h.to_vector(), (std::vector<double>{0.5, -1, 2048}));
  EXPECT_NE(h.raw(), static_cast<const void*>(f.bytes("h").data()));
  const Tensor d = f.tensor("d", DType::bf16);
  EXPECT_EQ(d.to_vector(), (std::vector<double>{1.0, 3.0}));
  EXPECT_EQ(f.tensor("d", DType::f64).to_vector(), (std::vector<double>{1.0 + 1e-9, 3.0}));
  EXPECT_THROW_MSG(f.tensor("missing"), "no tensor 'missing'");
}

TEST_F(Safetensors, MisalignedDataIsCopiedCorrectly) {
  // An f16 of 2 bytes first puts the f32 at data offset 2: valid, but not 4-byte aligned in memory.
  std::string header = R"({"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},)"
                       R"("w":{"dtype":"F32","shape":[2],"data_offsets":[2,10]}})";
  header.resize((header.size() + 7) / 8 * 8, ' ');
  const float w[2] = {1.5f, -3.0f};
  std::string data(10, '\0');
  data[1] = char(0x3c);  // f16 1.0 = 0x3c00
  std::memcpy(data.data() + 2, w, 8);
  const fs::path p = file("m.safetensors");
  write_bytes(p, file_bytes(header, data));
  const SafetensorsFile f(p.string());
  const Tensor t = f.tensor("w");
  EXPECT_EQ(t.to_vector(), (std::vector<double>{1.5, -3.0}));
  EXPECT_NE(t.raw(), static_cast<const void*>(f.bytes("w").data()));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.raw()) % 4, 0u);
  EXPECT_EQ(f.tensor("h").to_vector(), (std::vector<double>{1.0}));
}

TEST_F(Safetensors, ReadsTheReferenceLibraryFixture) {
  const SafetensorsFile f(fixture_path.string());
  EXPECT_EQ(f.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  const auto want = fixture_tensors();
  ASSERT_EQ(f.keys().size(), want.size());
  for (const auto& [k, t] : want) {
    SCOPED_TRACE(k);
    const Tensor got = f.tensor(k);
    EXPECT_EQ(got.dtype(), t.dtype());
    EXPECT_EQ(got.shape(), t.shape());
    EXPECT_EQ(got.to_vector(), t.to_vector());
  }
  EXPECT_EQ(f.tensor("i64").data<std::int64_t>()[0], (std::int64_t(1) << 40) + 7);  // beyond double's ulp check
}

TEST_F(Safetensors, WritesTheSameBytesAsTheReferenceLibrary) {
  const fs::path p = file("ours.safetensors");
  save_safetensors(p.string(), fixture_tensors(), {{"format", "pt"}}, Checksums::none);
  const std::string ref = read_bytes(fixture_path);
  ASSERT_FALSE(ref.empty()) << fixture_path;
  EXPECT_EQ(read_bytes(p), ref);
}

TEST_F(Safetensors, WritesAnEmptyFileAsTheReferenceDoes) {
  const fs::path p = file("empty.safetensors");
  save_safetensors(p.string(), {});
  EXPECT_EQ(read_bytes(p), file_bytes("{}      ", ""));
  EXPECT_TRUE(SafetensorsFile(p.string()).keys().empty());
}

// ---- malformed files: each one line naming the file (and the key), never a crash ----

TEST_F(Safetensors, RejectsAFileShorterThanTheLengthPrefix) {
  expect_rejected(std::string(5, '\0'), "shorter than the 8-byte header length");
  expect_rejected("", "shorter than the 8-byte header length");
}
TEST_F(Safetensors, RejectsATruncatedHeader) {
  const std::string whole = file_bytes(one_f32, std::string(8, '\0'));
  expect_rejected(whole.substr(0, 8 + one_f32.size() / 2), "runs past the end of the file");
}
TEST_F(Safetensors, RejectsTruncatedData) {
  expect_rejected(file_bytes(one_f32, std::string(6, '\0')), "run past the data section of 6 bytes", "a");
}
TEST_F(Safetensors, RejectsAHeaderLengthLargerThanTheFile) {
  expect_rejected(file_bytes(one_f32, std::string(8, '\0'), one_f32.size() + 9), "runs past the end of the file");
}
TEST_F(Safetensors, RejectsAnAbsurdHeaderLength) {
  expect_rejected(file_bytes(one_f32, "", 100'000'001), "exceeds the limit of 100000000 bytes");
  expect_rejected(file_bytes(one_f32, "", ~0ull - 1), "exceeds the limit");
}
TEST_F(Safetensors, RejectsInvalidJson) {
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32",)", ""), "invalid JSON header");
  expect_rejected(file_bytes("", ""), "invalid JSON header");
}
TEST_F(Safetensors, RejectsInvalidUtf8) { expect_rejected(file_bytes("{\"a\xff\":{}}", ""), "invalid JSON header"); }
TEST_F(Safetensors, RejectsNonObjectJson) {
  expect_rejected(file_bytes("[1, 2]  ", ""), "header is a JSON array, not an object");
  expect_rejected(file_bytes(R"({"a":5})", ""), "entry is a JSON number, not an object", "a");
}
TEST_F(Safetensors, RejectsAMissingDtype) {
  expect_rejected(file_bytes(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')), "missing \"dtype\"", "a");
}
TEST_F(Safetensors, RejectsAMissingShape) {
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", std::string(8, '\0')), "missing \"shape\"",
                  "a");
}
TEST_F(Safetensors, RejectsMissingOffsets) {
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", std::string(8, '\0')), "missing \"data_offsets\"", "a");
}
TEST_F(Safetensors, RejectsAnUnknownDtype) {
  expect_rejected(file_bytes(R"({"u":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", "xx"), "unsupported dtype 'U8'",
                  "u");
  expect_rejected(file_bytes(R"({"u":{"dtype":7,"shape":[2],"data_offsets":[0,2]}})", "xx"), "\"dtype\" is a JSON number",
                  "u");
}
TEST_F(Safetensors, RejectsANegativeOrFractionalShape) {
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[-1,2],"data_offsets":[0,8]}})", std::string(8, '\0')),
                  "must hold non-negative integers", "a");
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}})", std::string(8, '\0')),
                  "must hold non-negative integers", "a");
}
TEST_F(Safetensors, RejectsOffsetsPastTheEnd) {
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", std::string(12, '\0')),
                  "run past the data section", "a");
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,4]}})", std::string(12, '\0')),
                  "end before they begin", "a");
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,-8]}})", std::string(12, '\0')),
                  "must be [begin, end]", "a");
}
TEST_F(Safetensors, RejectsOffsetsThatLieAboutTheSize) {
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(12, '\0')),
                  "hold 8 bytes but shape (3,) of F32 needs 12", "a");
}
TEST_F(Safetensors, RejectsOverlappingTensors) {
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[4],"data_offsets":[16,32]},)"
                        R"("c":{"dtype":"F32","shape":[1],"data_offsets":[28,32]}})",
                        std::string(32, '\0')),
                  "tensors 'b' [16, 32) and 'c' [28, 32) overlap");
}
TEST_F(Safetensors, RejectsAShapeProductOverflow) {
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", ""),
                  "overflows 64-bit sizes", "a");
  expect_rejected(file_bytes(R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}})", ""),
                  "overflows 64-bit sizes", "a");  // fits elements, not bytes
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,0]}})", ""),
                  "must hold non-negative integers", "a");  // beyond int64 dimensions
}
TEST_F(Safetensors, RejectsDuplicateKeysAndBadMetadata) {
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                        std::string(8, '\0')),
                  "key 'a' appears twice");
  expect_rejected(file_bytes(R"({"__metadata__":{"epoch":3}})", ""), "\"__metadata__\" value 'epoch' is a JSON number");
  expect_rejected(file_bytes(R"({"__metadata__":[]})", ""), "\"__metadata__\" is a JSON array");
}
TEST_F(Safetensors, RejectsMissingFilesAndDirectories) {
  EXPECT_THROW_MSG(SafetensorsFile(file("nope.safetensors").string()), "cannot open");
  EXPECT_THROW_MSG(SafetensorsFile(dir_.string()), "not a regular file");
}

// ---- checksums ----

TEST_F(Safetensors, WritesACrc32PerTensorThatReadersSeeApartFromTheMetadata) {
  const fs::path p = file("crc.safetensors");
  const auto tensors = fixture_tensors();
  save_safetensors(p.string(), tensors, {{"format", "pt"}});
  const nlohmann::json meta = header_of(read_bytes(p))["__metadata__"];
  EXPECT_EQ(meta.size(), tensors.size() + 1);  // other readers see plain string metadata
  const SafetensorsFile f(p.string());
  EXPECT_TRUE(f.has_checksums());
  EXPECT_EQ(f.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  for (const auto& [k, t] : tensors) {
    SCOPED_TRACE(k);
    const auto b = f.bytes(k);
    const auto want = std::uint32_t(::crc32_z(0, reinterpret_cast<const Bytef*>(b.data()), b.size()));
    ASSERT_TRUE(f.entry(k).crc32);
    EXPECT_EQ(*f.entry(k).crc32, want);
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", want);
    EXPECT_EQ(meta.at("evaclip.crc32." + k), hex);
    EXPECT_EQ(f.tensor(k).to_vector(), t.to_vector());
  }
  f.verify();
}

TEST_F(Safetensors, AFlippedDataByteNamesTheFileAndTheTensor) {
  const fs::path p = file("flip.safetensors");
  save_safetensors(p.string(), {{"a", Tensor::full({4}, DType::f32, 1.0)}, {"b", test::randn({64}, DType::f64, 5)}});
  std::string bytes = read_bytes(p);
  const std::uint64_t b_begin = SafetensorsFile(p.string()).entry("b").begin;
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  bytes[8 + n + b_begin + 100] ^= 0x10;
  write_bytes(p, bytes);

  const SafetensorsFile f(p.string());  // the header is intact: the damage shows where the data is read
  EXPECT_EQ(f.tensor("a").to_vector(), (std::vector<double>{1, 1, 1, 1}));
  for (const auto& read : std::vector<std::function<void()>>{[&] { f.tensor("b"); }, [&] { f.bytes("b"); },
                                                             [&] { f.tensor("b", DType::f32); }, [&] { f.verify(); }}) {
    try {
      read();
      ADD_FAILURE() << "read a damaged tensor";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(p.string() + ": tensor 'b': data checksum "), std::string::npos) << msg;
      EXPECT_NE(msg.find("does not match"), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
  EXPECT_THROW_MSG(load_safetensors(p.string()), "tensor 'b'");
}

TEST_F(Safetensors, AnEditedChecksumNamesTheTensor) {
  const fs::path p = file("edited.safetensors");
  save_safetensors(p.string(), {{"a", Tensor::full({4}, DType::f32, 1.0)}, {"b", Tensor::full({2}, DType::i64, 3)}});
  const std::string bytes = read_bytes(p);
  nlohmann::json h = header_of(bytes);
  std::string& crc = h["__metadata__"]["evaclip.crc32.a"].get_ref<std::string&>();
  crc[7] = crc[7] == '0' ? '1' : '0';
  write_bytes(p, with_header(bytes, h));
  EXPECT_THROW_MSG(SafetensorsFile(p.string()).tensor("a"), p.string() + ": tensor 'a': data checksum");
  EXPECT_EQ(SafetensorsFile(p.string()).tensor("b").to_vector(), (std::vector<double>{3, 3}));

  h["__metadata__"]["evaclip.crc32.a"] = "1234567";
  expect_rejected(with_header(bytes, h), "checksum '1234567' is not 8 hex digits", "a");
  h["__metadata__"]["evaclip.crc32.a"] = "0000000g";
  expect_rejected(with_header(bytes, h), "is not 8 hex digits", "a");
}

TEST_F(Safetensors, AMissingOrStrayChecksumIsRejectedOnOpen) {
  const fs::path p = file("partial.safetensors");
  save_safetensors(p.string(), {{"a", Tensor::full({4}, DType::f32, 1.0)}, {"b", Tensor::full({2}, DType::i64, 3)}});
  const std::string bytes = read_bytes(p);
  nlohmann::json h = header_of(bytes);
  h["__metadata__"].erase("evaclip.crc32.b");
  expect_rejected(with_header(bytes, h), "tensor 'b' has no checksum although 1 other tensors have one");
  h = header_of(bytes);
  h["__metadata__"]["evaclip.crc32.c"] = "00000000";
  expect_rejected(with_header(bytes, h), "checksum 'evaclip.crc32.c' names no tensor");
}

TEST_F(Safetensors, FilesWithoutChecksumsStillLoad) {
  const SafetensorsFile reference(fixture_path.string());  // written by the reference library
  EXPECT_FALSE(reference.has_checksums());
  reference.verify();
  const fs::path p = file("plain.safetensors");
  save_safetensors(p.string(), {{"a", Tensor::full({4}, DType::f32, 1.0)}}, {}, Checksums::none);
  EXPECT_FALSE(header_of(read_bytes(p)).contains("__metadata__"));
  EXPECT_EQ(load_safetensors(p.string()).at("a").to_vector(), (std::vector<double>{1, 1, 1, 1}));
}

// ---- atomic writes ----

TEST_F(Safetensors, ReplacesAnExistingFileAndLeavesNoTemporary) {
  const fs::path p = file("ckpt.safetensors");
  save_safetensors(p.string(), {{"a", Tensor::full({2}, DType::f32, 1.0)}});
  save_safetensors(p.string(), {{"b", Tensor::full({3}, DType::f64, 2.0)}});
  EXPECT_EQ(SafetensorsFile(p.string()).keys(), std::vector<std::string>{"b"});
  EXPECT_EQ(listing(), std::vector<std::string>{"ckpt.safetensors"});
}

TEST_F(Safetensors, AFailureMidWriteKeepsThePreviousFileAndRemovesTheTemporary) {
  const fs::path p = file("ckpt.safetensors");
  save_safetensors(p.string(), {{"old", Tensor::full({4}, DType::f32, 1.0)}});
  const std::string before = read_bytes(p);
  {
    const test::FileSizeLimit limit(1 << 16);  // write() fails with EFBIG partway through the 4 MiB tensor
    EXPECT_THROW_MSG(save_safetensors(p.string(), {{"new", Tensor::zeros({1 << 20}, DType::f32)}}),
                     "write failed writing " + p.string());
  }
  EXPECT_EQ(read_bytes(p), before);
  EXPECT_EQ(listing(), std::vector<std::string>{"ckpt.safetensors"});
}

TEST_F(Safetensors, InvalidInputsFailBeforeTouchingTheTarget) {
  const fs::path p = file("ckpt.safetensors");
  save_safetensors(p.string(), {{"old", Tensor::full({4}, DType::f32, 1.0)}});
  const std::string before = read_bytes(p);
  EXPECT_THROW_MSG(save_safetensors(p.string(), {{"x", Tensor()}}), "tensor 'x' is undefined");
  EXPECT_THROW_MSG(save_safetensors(p.string(), {{"__metadata__", Tensor::zeros({1}, DType::f32)}}), "reserved");
  EXPECT_THROW_MSG(save_safetensors(p.string(), {{"bad\xff", Tensor::zeros({1}, DType::f32)}}), "not valid UTF-8");
  EXPECT_THROW_MSG(save_safetensors(p.string(), {}, {{"k", "\xc3"}}), "metadata value");
  EXPECT_THROW_MSG(save_safetensors(p.string(), {}, {{"evaclip.crc32.old", "00000000"}}), "reserved for checksums");
  EXPECT_EQ(read_bytes(p), before);
  EXPECT_EQ(listing(), std::vector<std::string>{"ckpt.safetensors"});
}

TEST_F(Safetensors, AnUnwritableDirectoryFailsCleanly) {
  const fs::path p = file("missing_dir") / "ckpt.safetensors";
  EXPECT_THROW_MSG(save_safetensors(p.string(), {{"a", Tensor::zeros({1}, DType::f32)}}), "cannot create");
  EXPECT_FALSE(fs::exists(p));
}
