// safetensors.hpp — defines SafetensorsFile (a validated, memory-mapped .safetensors file whose tensors are
// zero-copy views, checked against their CRC-32 when the file has them), load_safetensors, and
// save_safetensors (atomic, laid out as the reference library does, with a CRC-32 per tensor).
//
// Format: 8-byte little-endian header length N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets":
// [begin, end]}, "__metadata__": {string: string}}, then the data section; offsets are relative to it.
// Supported dtypes: F64 F32 F16 BF16 I64 I32 (evaclip's DTypes); others (U8, BOOL, F8_*, ...) are refused.
// Checksums: "__metadata__" key "evaclip.crc32.<tensor>" -> 8 hex digits, zlib's CRC-32 of the tensor's bytes
// (docs/checkpoints.md). Other readers see ordinary metadata; files without them (official, converted) load.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "evaclip/core/tensor.hpp"
#include "evaclip/io/file.hpp"

namespace evaclip {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

// One tensor of a file: offsets [begin, end) in bytes from the start of the data section, and the CRC-32
// of those bytes when the file carries checksums.
struct SafetensorsEntry {
  DType dtype = DType::f32;
  Shape shape;
  std::uint64_t begin = 0, end = 0;
  std::optional<std::uint32_t> crc32;
};

// Whether save_safetensors stores a CRC-32 per tensor (none: byte for byte what the reference library writes).
enum class Checksums { crc32, none };

namespace safetensors_detail {

inline constexpr std::uint64_t max_header_bytes = 100'000'000;    // the reference library's limit
inline constexpr std::string_view crc_prefix = "evaclip.crc32.";  // + tensor name, in "__metadata__"

inline std::uint32_t crc32_of(std::span<const std::byte> b) {
  return std::uint32_t(::crc32_z(0, reinterpret_cast<const Bytef*>(b.data()), b.size()));
}
inline std::string crc_hex(std::uint32_t crc) {
  char s[9];
  std::snprintf(s, sizeof s, "%08x", crc);
  return s;
}
inline std::optional<std::uint32_t> parse_crc_hex(const std::string& s) {
  if (s.size() != 8 || s.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) return std::nullopt;
  return std::uint32_t(std::stoul(s, nullptr, 16));
}

inline std::string_view format_name(DType t) {
  switch (t) {
    case DType::f64: return "F64";
    case DType::f32: return "F32";
    case DType::bf16: return "BF16";
    case DType::f16: return "F16";
    case DType::i64: return "I64";
    case DType::i32: return "I32";
  }
  return "?";
}
inline std::optional<DType> parse_dtype(std::string_view s) {
  for (DType t : {DType::f64, DType::f32, DType::bf16, DType::f16, DType::i64, DType::i32})
    if (format_name(t) == s) return t;
  return std::nullopt;
}
// Position in the reference's Dtype enum (F16 < BF16 < I32 < F32 < F64 < I64): it writes descending.
inline int reference_rank(DType t) {
  switch (t) {
    case DType::f16: return 0;
    case DType::bf16: return 1;
    case DType::i32: return 2;
    case DType::f32: return 3;
    case DType::f64: return 4;
    case DType::i64: return 5;
  }
  return 0;
}

// A name for a one-line message: quoted, control bytes escaped, long names shortened.
inline std::string quote_key(std::string_view s) {
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < 200; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      const char hex[] = "0123456789abcdef";
      out += {'\\', 'x', hex[c >> 4], hex[c & 15]};
    } else {
      out += char(c);
    }
  }
  return out + (s.size() > 200 ? "...'" : "'");
}

// Long JSON snippets and parser messages shortened for an error line.
inline std::string brief(std::string s) { return s.size() > 160 ? s.substr(0, 160) + "..." : s; }

struct Header {
  std::map<std::string, SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
  std::uint64_t data_begin = 0;  // 8 + N
};

// Validates the length prefix and the JSON header of the file image [p, p + size) against the file size,
// every entry's dtype, shape and offsets, and that no two tensors overlap. Reads no tensor data.
inline Header parse_header(const std::byte* p, std::size_t size, const std::string& file) {
  const std::string where = "safetensors: " + file + ": ";
  if (size < 8) fail(where, "file of ", size, " bytes is shorter than the 8-byte header length");
  std::uint64_t n = 0;
  std::memcpy(&n, p, 8);
  if (n > max_header_bytes) fail(where, "header length ", n, " exceeds the limit of ", max_header_bytes, " bytes");
  if (n > size - 8) fail(where, "header length ", n, " runs past the end of the file (", size, " bytes)");

  using nlohmann::json;
  // The DOM keeps the last of repeated keys silently; a callback sees every key of the top-level object.
  std::set<std::string> seen;
  std::optional<std::string> duplicate;
  const json::parser_callback_t on_event = [&](int depth, json::parse_event_t ev, json& parsed) {
    if (depth == 1 && ev == json::parse_event_t::key && !seen.insert(parsed.get<std::string>()).second && !duplicate)
      duplicate = parsed.get<std::string>();
    return true;
  };
  json j;
  try {
    const auto* text = reinterpret_cast<const char*>(p + 8);
    j = json::parse(text, text + n, on_event);
  } catch (const json::exception& e) {
    fail(where, "invalid JSON header: ", brief(e.what()));
  }
  if (!j.is_object()) fail(where, "header is a JSON ", j.type_name(), ", not an object");
  if (duplicate) fail(where, "key ", quote_key(*duplicate), " appears twice in the header");

  Header h;
  h.data_begin = 8 + n;
  const std::uint64_t data_size = size - h.data_begin;
  for (const auto& [key, v] : j.items()) {
    const std::string at = where + "tensor " + quote_key(key) + ": ";
    if (key == "__metadata__") {
      if (!v.is_object()) fail(where, "\"__metadata__\" is a JSON ", v.type_name(), ", not an object");
      for (const auto& [mk, mv] : v.items()) {
        if (!mv.is_string())
          fail(where, "\"__metadata__\" value ", quote_key(mk), " is a JSON ", mv.type_name(), ", not a string");
        h.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) fail(at, "entry is a JSON ", v.type_name(), ", not an object");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!v.contains(field)) fail(at, "missing \"", field, "\"");
    const json& jd = v.at("dtype");
    const json& js = v.at("shape");
    const json& jo = v.at("data_offsets");
    if (!jd.is_string()) fail(at, "\"dtype\" is a JSON ", jd.type_name(), ", not a string");
    const auto dtype = parse_dtype(jd.get_ref<const std::string&>());
    if (!dtype)
      fail(at, "unsupported dtype ", quote_key(jd.get_ref<const std::string&>()),
           " (evaclip reads F64, F32, F16, BF16, I64, I32)");

    SafetensorsEntry e;
    e.dtype = *dtype;
    if (!js.is_array()) fail(at, "\"shape\" is a JSON ", js.type_name(), ", not an array");
    std::uint64_t count = 1;  // elements; checked against overflow before the comparison below
    bool overflow = false;
    for (const json& d : js) {
      if (!d.is_number_unsigned() || d.get<std::uint64_t>() > std::uint64_t(INT64_MAX))
        fail(at, "\"shape\" ", brief(js.dump()), " must hold non-negative integers");
      overflow = overflow || __builtin_mul_overflow(count, d.get<std::uint64_t>(), &count);
      e.shape.push_back(std::int64_t(d.get<std::uint64_t>()));
    }
    std::uint64_t bytes = 0;
    overflow =
        overflow || count > std::uint64_t(INT64_MAX) || __builtin_mul_overflow(count, dtype_size(e.dtype), &bytes);
    if (overflow) fail(at, "shape ", brief(js.dump()), " of ", format_name(e.dtype), " overflows 64-bit sizes");
    if (!jo.is_array() || jo.size() != 2 || !jo[0].is_number_unsigned() || !jo[1].is_number_unsigned())
      fail(at, "\"data_offsets\" ", brief(jo.dump()), " must be [begin, end] with non-negative integers");
    e.begin = jo[0].get<std::uint64_t>();
    e.end = jo[1].get<std::uint64_t>();
    if (e.begin > e.end) fail(at, "data_offsets [", e.begin, ", ", e.end, "] end before they begin");
    if (e.end > data_size)
      fail(at, "data_offsets [", e.begin, ", ", e.end, "] run past the data section of ", data_size, " bytes");
    if (e.end - e.begin != bytes)
      fail(at, "data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin, " bytes but shape ",
           to_string(e.shape), " of ", format_name(e.dtype), " needs ", bytes);
    h.entries.emplace(key, std::move(e));
  }

  // Overlaps: sorted by begin, each non-empty tensor must start at or after the furthest end so far. Gaps
  // and trailing bytes are accepted (the reference rejects them; they are harmless, and aligning writers
  // leave them).
  std::vector<const std::pair<const std::string, SafetensorsEntry>*> order;
  for (const auto& kv : h.entries)
    if (kv.second.end > kv.second.begin) order.push_back(&kv);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->second.begin < b->second.begin; });
  for (std::size_t i = 1, far = 0; i < order.size(); ++i) {
    const auto &a = *order[far], &b = *order[i];
    if (b.second.begin < a.second.end)
      fail(where, "tensors ", quote_key(a.first), " [", a.second.begin, ", ", a.second.end, ") and ",
           quote_key(b.first), " [", b.second.begin, ", ", b.second.end, ") overlap");
    if (b.second.end > a.second.end) far = i;
  }

  // Checksums leave the metadata for their entries; once a file has one, every tensor must have one.
  std::size_t checksums = 0;
  for (auto it = h.metadata.begin(); it != h.metadata.end();) {
    if (!it->first.starts_with(crc_prefix)) {
      ++it;
      continue;
    }
    const std::string key = it->first.substr(crc_prefix.size());
    const auto e = h.entries.find(key);
    if (e == h.entries.end()) fail(where, "checksum ", quote_key(it->first), " names no tensor of the file");
    e->second.crc32 = parse_crc_hex(it->second);
    if (!e->second.crc32)
      fail(where, "tensor ", quote_key(key), ": checksum ", quote_key(it->second), " is not 8 hex digits");
    ++checksums;
    it = h.metadata.erase(it);
  }
  if (checksums > 0)
    for (const auto& [key, e] : h.entries)
      if (!e.crc32)
        fail(where, "tensor ", quote_key(key), " has no checksum although ", checksums,
             " other tensors have one (the header was edited or damaged)");
  return h;
}

}  // namespace safetensors_detail

// An open .safetensors file. The whole header is validated on open; tensor(key) is then a zero-copy view
// of the mapping (which it keeps alive after this object is gone) whenever the data is aligned for its
// dtype, and an owned copy otherwise (the format does not promise alignment).
// With checksums, a tensor's bytes are checked on their first access (bytes, tensor) and verify() checks
// them all: readers of a few tensors pay for those only, and every damaged tensor is named.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path)
      : file_(io::MappedFile::open(path, "safetensors")),
        header_(safetensors_detail::parse_header(file_->data(), file_->size(), path)),
        verified_(std::make_shared<Verified>()) {}

  const std::string& path() const { return file_->path(); }
  std::vector<std::string> keys() const {  // sorted
    std::vector<std::string> k;
    for (const auto& kv : header_.entries) k.push_back(kv.first);
    return k;
  }
  bool contains(const std::string& key) const { return header_.entries.count(key) > 0; }
  const SafetensorsEntry& entry(const std::string& key) const {
    const auto it = header_.entries.find(key);
    if (it == header_.entries.end())
      fail("safetensors: ", path(), ": no tensor ", safetensors_detail::quote_key(key), " (", header_.entries.size(),
           " tensors)");
    return it->second;
  }
  // The metadata without the checksums.
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  bool has_checksums() const { return !header_.entries.empty() && header_.entries.begin()->second.crc32; }

  // Checks every tensor against its checksum (nothing to do without them); throws naming the first bad one.
  void verify() const {
    for (const auto& kv : header_.entries) bytes(kv.first);
  }

  // The tensor's raw bytes in the file (little-endian, row-major), checked against its checksum.
  std::span<const std::byte> bytes(const std::string& key) const {
    const SafetensorsEntry& e = entry(key);
    return {checked_data(key, e), std::size_t(e.end - e.begin)};
  }
  Tensor tensor(const std::string& key) const {
    const SafetensorsEntry& e = entry(key);
    std::byte* p = checked_data(key, e);
    if (reinterpret_cast<std::uintptr_t>(p) % dtype_size(e.dtype) == 0)
      return Tensor::from_external(p, e.shape, e.dtype, file_);
    Tensor t = Tensor::empty(e.shape, e.dtype);
    std::memcpy(t.raw(), p, std::size_t(e.end - e.begin));
    return t;
  }
  // An owned copy converted to dtype (as Tensor::to rounds).
  Tensor tensor(const std::string& key, DType dtype) const {
    const Tensor src = tensor(key);
    Tensor t = Tensor::empty(src.shape(), dtype);
    t.copy_(src);
    return t;
  }

 private:
  // Keys whose bytes matched their checksum; shared by copies (they view the same mapping).
  struct Verified {
    std::mutex mutex;
    std::set<std::string> keys;
  };

  // The start of e's bytes in the mapping, checked against its checksum on first use.
  std::byte* checked_data(const std::string& key, const SafetensorsEntry& e) const {
    std::byte* p = file_->data() + header_.data_begin + e.begin;
    if (!e.crc32) return p;
    {
      const std::lock_guard lock(verified_->mutex);
      if (verified_->keys.count(key)) return p;
    }
    const std::uint32_t crc = safetensors_detail::crc32_of({p, std::size_t(e.end - e.begin)});
    if (crc != *e.crc32)
      fail("safetensors: ", path(), ": tensor ", safetensors_detail::quote_key(key), ": data checksum ",
           safetensors_detail::crc_hex(crc), " does not match the header's ", safetensors_detail::crc_hex(*e.crc32),
           " (the file is damaged)");
    const std::lock_guard lock(verified_->mutex);
    verified_->keys.insert(key);
    return p;
  }

  std::shared_ptr<const io::MappedFile> file_;
  safetensors_detail::Header header_;
  std::shared_ptr<Verified> verified_;
};

// Every tensor of a file, as views of one mapping where aligned.
inline std::map<std::string, Tensor> load_safetensors(const std::string& path) {
  const SafetensorsFile f(path);
  std::map<std::string, Tensor> out;
  for (const auto& k : f.keys()) out.emplace(k, f.tensor(k));
  return out;
}

// Writes tensors (any device, dtype and strides) and string metadata to path atomically: through
// <path>.tmp.<pid>, fsync and rename; on any failure path is untouched and the temporary file removed.
// The layout is the reference library's: tensors sorted by descending dtype (I64, F64, F32, I32, BF16, F16),
// then by name; "__metadata__" first (omitted when empty); the header padded with spaces to 8 bytes.
// With Checksums::crc32 the metadata also holds each tensor's CRC-32, computed as its bytes are written: the
// header goes out with placeholders of the same width and is rewritten once the data is on disk.
inline void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                             const std::map<std::string, std::string>& metadata = {},
                             Checksums checksums = Checksums::crc32) {
  using nlohmann::ordered_json;
  using safetensors_detail::crc_prefix;
  using safetensors_detail::quote_key;
  const std::string where = "save_safetensors: " + path + ": ";
  auto check_utf8 = [&](const std::string& s, const char* what) {
    try {
      (void)ordered_json(s).dump();
    } catch (const nlohmann::json::exception&) {
      fail(where, what, " ", quote_key(s), " is not valid UTF-8");
    }
  };
  std::vector<const std::pair<const std::string, Tensor>*> order;
  for (const auto& kv : tensors) {
    check_utf8(kv.first, "tensor name");
    if (kv.first == "__metadata__") fail(where, "\"__metadata__\" is reserved and cannot name a tensor");
    if (!kv.second.defined()) fail(where, "tensor ", quote_key(kv.first), " is undefined");
    order.push_back(&kv);
  }
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {  // names already ascending (std::map)
    return safetensors_detail::reference_rank(a->second.dtype()) >
           safetensors_detail::reference_rank(b->second.dtype());
  });
  for (const auto& [k, v] : metadata) {
    check_utf8(k, "metadata key");
    check_utf8(v, "metadata value");
    if (k.starts_with(crc_prefix)) fail(where, "metadata key ", quote_key(k), " is reserved for checksums");
  }

  const bool with_crc = checksums == Checksums::crc32 && !tensors.empty();
  std::vector<std::uint32_t> crcs(order.size());
  auto header_text = [&] {
    std::map<std::string, std::string> meta = metadata;
    if (with_crc)
      for (std::size_t i = 0; i < order.size(); ++i)
        meta[std::string(crc_prefix) + order[i]->first] = safetensors_detail::crc_hex(crcs[i]);
    ordered_json header = ordered_json::object();
    if (!meta.empty()) header["__metadata__"] = meta;
    std::uint64_t offset = 0;
    for (const auto* kv : order) {
      const Tensor& t = kv->second;
      ordered_json info = ordered_json::object();
      info["dtype"] = std::string(safetensors_detail::format_name(t.dtype()));
      info["shape"] = t.shape();
      info["data_offsets"] = {offset, offset + t.nbytes()};
      offset += t.nbytes();
      header[kv->first] = std::move(info);
    }
    std::string text = header.dump();
    text.resize((text.size() + 7) / 8 * 8, ' ');
    return text;
  };
  const std::string placeholder = header_text();
  const std::uint64_t n = placeholder.size();

  io::AtomicFileWriter out(path, "save_safetensors");
  out.write(&n, 8);
  out.write(placeholder.data(), placeholder.size());
  // One tensor at a time on the host: device checkpoints are not doubled.
  for (std::size_t i = 0; i < order.size(); ++i) {
    const Tensor host = order[i]->second.to(Device::cpu).contiguous();
    if (host.nbytes() == 0) continue;
    if (with_crc) crcs[i] = safetensors_detail::crc32_of({static_cast<const std::byte*>(host.raw()), host.nbytes()});
    out.write(host.raw(), host.nbytes());
  }
  if (with_crc) {
    const std::string text = header_text();  // the same length: every checksum is 8 hex digits
    out.write_at(8, text.data(), text.size());
  }
  out.commit();
}

}  // namespace evaclip
