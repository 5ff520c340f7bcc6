// npy.hpp — defines save_npy: a tensor to a NumPy .npy file (format 1.0, little-endian, C order), written
// atomically, byte-identical to numpy.save for the same array.
//
// Layout: "\x93NUMPY", version 1.0, a little-endian uint16 header length, then the header dict
// "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" padded with spaces and ended by '\n' so
// that the data starts at a multiple of 64 bytes (numpy >= 1.17), then the raw elements.
#pragma once

#include <cstdint>
#include <string>

#include "evaclip/core/error.hpp"
#include "evaclip/core/tensor.hpp"
#include "evaclip/io/file.hpp"

namespace evaclip {

namespace npy_detail {
// numpy's descr for the dtypes a .npy file can hold without conversion (x86/ARM hosts are little-endian).
inline const char* descr(DType dt, const std::string& path) {
  switch (dt) {
    case DType::f64: return "<f8";
    case DType::f32: return "<f4";
    case DType::f16: return "<f2";
    case DType::i64: return "<i8";
    case DType::i32: return "<i4";
    default: fail("save_npy: ", path, ": ", dtype_name(dt), " has no NumPy dtype (numpy has no bfloat16)");
  }
}
}  // namespace npy_detail

inline void save_npy(const std::string& path, const Tensor& t) {
  const char* descr = npy_detail::descr(t.dtype(), path);
  std::string shape;  // Python's tuple repr: (), (5,), (2, 3)
  for (std::size_t i = 0; i < t.rank(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape()[i]);
  if (t.rank() == 1) shape += ",";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  const std::size_t prefix = 10;  // magic (6) + version (2) + header length (2)
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  EVACLIP_CHECK(header.size() <= 0xFFFF, "save_npy: ", path, ": shape ", to_string(t.shape()),
                " too long for format 1.0");
  const Tensor host = t.to(Device::cpu).contiguous();
  io::AtomicFileWriter out(path, "save_npy");
  const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  const unsigned char len[2] = {static_cast<unsigned char>(header.size() & 0xFF),
                                static_cast<unsigned char>(header.size() >> 8)};
  out.write(magic, sizeof magic);
  out.write(len, sizeof len);
  out.write(header.data(), header.size());
  if (host.nbytes() > 0) out.write(host.raw(), host.nbytes());
  out.commit();
}

}  // namespace evaclip
