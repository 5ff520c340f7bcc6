// dtype.hpp — defines DType (f64, f32, bf16, f16, i64, i32), its names and sizes, and the C++ type map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "evaclip/core/half.hpp"

namespace evaclip {

enum class DType : std::uint8_t { f64, f32, bf16, f16, i64, i32 };

constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f64: case DType::i64: return 8;
    case DType::f32: case DType::i32: return 4;
    case DType::bf16: case DType::f16: return 2;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f64: return "f64";
    case DType::f32: return "f32";
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
    case DType::i64: return "i64";
    case DType::i32: return "i32";
  }
  return "?";
}

constexpr bool is_floating(DType t) { return t != DType::i64 && t != DType::i32; }

template <class T> inline constexpr bool always_false = false;

// dtype_of<T>: the DType tag of a C++ element type.
template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, double>) return DType::f64;
  else if constexpr (std::is_same_v<T, float>) return DType::f32;
  else if constexpr (std::is_same_v<T, bf16>) return DType::bf16;
  else if constexpr (std::is_same_v<T, f16>) return DType::f16;
  else if constexpr (std::is_same_v<T, std::int64_t>) return DType::i64;
  else if constexpr (std::is_same_v<T, std::int32_t>) return DType::i32;
  else static_assert(always_false<T>, "dtype_of: unsupported element type");
}

// visit_dtype(t, f) calls f(T{}) with the C++ type of t, so one generic lambda serves every dtype.
template <class F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f64: return f(double{});
    case DType::f32: return f(float{});
    case DType::bf16: return f(bf16{});
    case DType::f16: return f(f16{});
    case DType::i64: return f(std::int64_t{});
    case DType::i32: return f(std::int32_t{});
  }
  return f(float{});
}

// Element conversions through the compute type: reduced types widen to float, everything else casts.
template <class To, class From>
EVACLIP_INLINE To convert(From v) {
  if constexpr (std::is_same_v<To, From>) return v;
  else if constexpr (std::is_same_v<From, bf16> || std::is_same_v<From, f16>) return To(static_cast<float>(v));
  else if constexpr (std::is_same_v<To, bf16> || std::is_same_v<To, f16>) return To(static_cast<float>(v));
  else return static_cast<To>(v);
}

}  // namespace evaclip
