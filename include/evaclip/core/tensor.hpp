// tensor.hpp — defines Tensor (shared, owning storage + strided view metadata) and TensorView<T>.
//
// A Tensor is a handle: copies share storage, and reshape/slice/transpose/permute return views of the
// same storage. Kernels take raw pointers of contiguous tensors; TensorView<T> is the non-owning, typed,
// strided window used by reference formulas and tests (`v(b, t, d)`).
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <numeric>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/cuda_memory.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/core/error.hpp"
#include "evaclip/core/host_memory.hpp"
#include "evaclip/core/random.hpp"
#include "evaclip/core/shape.hpp"

namespace evaclip {

// Block of bytes on one device, freed (or returned to the caching allocator) with its last Tensor; or host
// memory owned elsewhere (a memory-mapped file), kept alive by `keeper` and released with it instead.
class Storage {
 public:
  Storage(void* data, std::size_t bytes, std::shared_ptr<const void> keeper)
      : data_(data), bytes_(bytes), device_(Device::cpu), keeper_(std::move(keeper)) {
    EVACLIP_CHECK(keeper_, "Storage: external memory needs an owner that keeps it alive");
  }
  Storage(std::size_t bytes, Device device) : bytes_(bytes), device_(device) {
    data_ = device == Device::cpu ? host_alloc(bytes) : device_alloc(bytes);
  }
  ~Storage() {
    if (keeper_) return;  // the keeper's own release frees external memory
    device_ == Device::cpu ? host_free(data_, bytes_) : device_free(data_);
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_;
  Device device_;
  std::shared_ptr<const void> keeper_;
};

template <class T>
struct TensorView {
  T* data;
  Shape shape;
  Strides strides;

  template <class... I>
  T& operator()(I... idx) const {
    const std::int64_t ix[sizeof...(I) + 1] = {static_cast<std::int64_t>(idx)..., 0};  // +1: rank 0 has no index
    std::int64_t off = 0;
    for (std::size_t k = 0; k < sizeof...(I); ++k) off += ix[k] * strides[k];
    return data[off];
  }
};

class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(Shape shape, DType dtype, Device device = Device::cpu) {
    for (auto d : shape) EVACLIP_CHECK(d >= 0, "Tensor::empty: negative dimension in ", to_string(shape));
    Tensor t;
    t.storage_ = std::make_shared<Storage>(std::size_t(evaclip::numel(shape)) * dtype_size(dtype), device);
    t.strides_ = contiguous_strides(shape);
    t.shape_ = std::move(shape);
    t.dtype_ = dtype;
    return t;
  }
  static Tensor zeros(Shape shape, DType dtype, Device device = Device::cpu) {
    Tensor t = empty(std::move(shape), dtype, device);
    t.fill_(0.0);
    return t;
  }
  static Tensor full(Shape shape, DType dtype, double value) {
    Tensor t = empty(std::move(shape), dtype);
    t.fill_(value);
    return t;
  }
  // Host tensor from values given in any arithmetic type, converted (rounded) to dtype.
  template <class V>
  static Tensor from(Shape shape, DType dtype, const std::vector<V>& values) {
    EVACLIP_CHECK(std::int64_t(values.size()) == evaclip::numel(shape), "Tensor::from: ", values.size(),
                  " values for shape ", to_string(shape));
    Tensor t = empty(std::move(shape), dtype);
    visit_dtype(dtype, [&](auto z) {
      using T = decltype(z);
      T* p = t.data<T>();
      for (std::size_t i = 0; i < values.size(); ++i) p[i] = convert<T>(values[i]);
    });
    return t;
  }
  // Host tensor over external, contiguous memory without a copy; `keeper` owns that memory and lives as long
  // as any Tensor viewing it. The data must be aligned for dtype (typed access would be undefined otherwise).
  static Tensor from_external(void* data, Shape shape, DType dtype, std::shared_ptr<const void> keeper) {
    for (auto d : shape) EVACLIP_CHECK(d >= 0, "Tensor::from_external: negative dimension in ", to_string(shape));
    EVACLIP_CHECK(reinterpret_cast<std::uintptr_t>(data) % dtype_size(dtype) == 0, "Tensor::from_external: ",
                  dtype_name(dtype), " data at ", data, " is not aligned to ", dtype_size(dtype), " bytes");
    Tensor t;
    t.storage_ = std::make_shared<Storage>(data, std::size_t(evaclip::numel(shape)) * dtype_size(dtype),
                                           std::move(keeper));
    t.strides_ = contiguous_strides(shape);
    t.shape_ = std::move(shape);
    t.dtype_ = dtype;
    return t;
  }
  // Seeded N(0, std^2) (floating dtypes) on the host.
  static Tensor randn(Shape shape, DType dtype, Rng& rng, double std = 1.0) {
    std::vector<double> v(std::size_t(evaclip::numel(shape)));
    for (auto& x : v) x = std * rng.normal();
    return from(std::move(shape), dtype, v);
  }
  static Tensor uniform(Shape shape, DType dtype, Rng& rng, double lo, double hi) {
    std::vector<double> v(std::size_t(evaclip::numel(shape)));
    for (auto& x : v) x = rng.uniform(lo, hi);
    return from(std::move(shape), dtype, v);
  }

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  std::size_t rank() const { return shape_.size(); }
  std::int64_t size(std::int64_t d) const { return shape_[wrap_dim(d, rank(), "Tensor::size")]; }
  std::int64_t numel() const { return evaclip::numel(shape_); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::cpu; }
  std::size_t nbytes() const { return std::size_t(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const { return strides_ == contiguous_strides(shape_) || numel() <= 1; }
  bool shares_storage(const Tensor& o) const { return storage_ == o.storage_; }
  // No other Tensor refers to this storage (so it may be adopted and later written in place).
  bool is_unique() const { return storage_.use_count() == 1; }

  void* raw() const {
    EVACLIP_CHECK(defined(), "Tensor: use of an undefined tensor");
    return static_cast<char*>(storage_->data()) + offset_ * std::int64_t(dtype_size(dtype_));
  }
  template <class T>
  T* data() const {
    EVACLIP_CHECK(dtype_of<T>() == dtype_, "Tensor::data<", dtype_name(dtype_of<T>()), ">: tensor of shape ",
                  to_string(shape_), " holds ", dtype_name(dtype_));
    return static_cast<T*>(raw());
  }
  template <class T>
  TensorView<T> view() const {
    return {data<T>(), shape_, strides_};
  }

  // ---- views (share storage) ----
  Tensor reshape(Shape s) const {
    std::int64_t known = 1, infer = -1;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == -1) {
        EVACLIP_CHECK(infer < 0, "reshape: more than one -1 in ", to_string(s));
        infer = std::int64_t(i);
      } else {
        EVACLIP_CHECK(s[i] >= 0, "reshape: negative dimension in ", to_string(s));
        known *= s[i];
      }
    }
    if (infer >= 0) {
      EVACLIP_CHECK(known > 0, "reshape: -1 is ambiguous for ", to_string(shape_), " as ", to_string(s));
      s[std::size_t(infer)] = numel() / known;
    }
    EVACLIP_CHECK(evaclip::numel(s) == numel(), "reshape: cannot view ", to_string(shape_), " as ", to_string(s));
    Tensor t = is_contiguous() ? *this : contiguous();
    t.strides_ = contiguous_strides(s);
    t.shape_ = std::move(s);
    return t;
  }
  Tensor slice(std::int64_t dim, std::int64_t begin, std::int64_t end) const {
    const std::size_t d = wrap_dim(dim, rank(), "slice");
    EVACLIP_CHECK(0 <= begin && begin <= end && end <= shape_[d], "slice: range [", begin, ", ", end,
                  ") out of bounds for dimension ", dim, " of ", to_string(shape_));
    Tensor t = *this;
    t.offset_ += begin * strides_[d];
    t.shape_[d] = end - begin;
    return t;
  }
  Tensor permute(const std::vector<std::int64_t>& order) const {
    EVACLIP_CHECK(order.size() == rank(), "permute: order of length ", order.size(), " for ", to_string(shape_));
    Tensor t = *this;
    std::vector<bool> seen(rank(), false);
    for (std::size_t i = 0; i < rank(); ++i) {
      const std::size_t src = wrap_dim(order[i], rank(), "permute");
      EVACLIP_CHECK(!seen[src], "permute: dimension ", order[i], " repeated");
      seen[src] = true;
      t.shape_[i] = shape_[src];
      t.strides_[i] = strides_[src];
    }
    return t;
  }
  Tensor transpose(std::int64_t a, std::int64_t b) const {
    std::vector<std::int64_t> order(rank());
    std::iota(order.begin(), order.end(), 0);
    std::swap(order[wrap_dim(a, rank(), "transpose")], order[wrap_dim(b, rank(), "transpose")]);
    return permute(order);
  }

  // ---- copies ----
  Tensor contiguous() const {
    if (is_contiguous()) return *this;
    Tensor t = empty(shape_, dtype_, device());
    t.copy_(*this);
    return t;
  }
  Tensor clone() const {
    Tensor t = empty(shape_, dtype_, device());
    t.copy_(*this);
    return t;
  }
  Tensor to(DType dt) const {
    if (dt == dtype_) return *this;
    Tensor t = empty(shape_, dt, device());
    t.copy_(*this);
    return t;
  }
  Tensor to(Device dev) const {
    if (dev == device()) return *this;
    Tensor src = contiguous();
    Tensor t = empty(shape_, dtype_, dev);
    copy_bytes(t.raw(), dev, src.raw(), src.device(), nbytes());
    return t;
  }

  // Element-wise copy from a tensor of the same shape, any dtype and strides (host tensors).
  void copy_(const Tensor& src) {
    EVACLIP_CHECK(src.shape_ == shape_, "copy_: destination ", to_string(shape_), " vs source ", to_string(src.shape_));
    if (device() != Device::cpu || src.device() != Device::cpu) {
      EVACLIP_CHECK(src.dtype_ == dtype_ && is_contiguous() && src.is_contiguous(),
                    "copy_: cross-device copies need equal dtypes and contiguous tensors");
      copy_bytes(raw(), device(), src.raw(), src.device(), nbytes());
      return;
    }
    visit_dtype(dtype_, [&](auto zd) {
      visit_dtype(src.dtype_, [&](auto zs) {
        using D = decltype(zd);
        using S = decltype(zs);
        D* d = static_cast<D*>(raw());
        const S* s = static_cast<const S*>(src.raw());
        for_each_offset(shape_, strides_, src.strides_,
                        [&](std::int64_t od, std::int64_t os) { d[od] = convert<D>(s[os]); });
      });
    });
  }
  void fill_(double v) {
    EVACLIP_CHECK(device() == Device::cpu, "fill_: host tensors only");
    visit_dtype(dtype_, [&](auto z) {
      using T = decltype(z);
      const T x = convert<T>(v);
      T* d = static_cast<T*>(raw());
      for_each_offset(shape_, strides_, strides_, [&](std::int64_t o, std::int64_t) { d[o] = x; });
    });
  }

  // Host values widened to double, in row-major order (for tests, printing and reductions).
  std::vector<double> to_vector() const {
    Tensor c = to(Device::cpu).contiguous().to(DType::f64);
    const double* p = c.data<double>();
    return std::vector<double>(p, p + c.numel());
  }
  double item() const {
    EVACLIP_CHECK(numel() == 1, "item: tensor of shape ", to_string(shape_), " is not a single value");
    return to_vector()[0];
  }

 private:
  // Walks every index of `shape` in row-major order, passing the element offsets under two stride sets.
  template <class F>
  static void for_each_offset(const Shape& shape, const Strides& sa, const Strides& sb, F&& f) {
    const std::int64_t n = evaclip::numel(shape);
    if (n == 0) return;
    std::vector<std::int64_t> idx(shape.size(), 0);
    std::int64_t oa = 0, ob = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      f(oa, ob);
      for (std::size_t d = shape.size(); d-- > 0;) {  // odometer increment
        if (++idx[d] < shape[d]) {
          oa += sa[d];
          ob += sb[d];
          break;
        }
        oa -= sa[d] * (shape[d] - 1);
        ob -= sb[d] * (shape[d] - 1);
        idx[d] = 0;
      }
    }
  }

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Strides strides_;
  std::int64_t offset_ = 0;  // in elements
  DType dtype_ = DType::f32;
};

// Throws "<op>: <what> shape (a) vs (b)" unless the shapes are equal.
inline void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  EVACLIP_CHECK(a.shape() == b.shape(), op, ": shape mismatch ", to_string(a.shape()), " vs ", to_string(b.shape()));
}
inline void check_dtype(const char* op, const Tensor& t, DType want) {
  EVACLIP_CHECK(t.dtype() == want, op, ": expected ", dtype_name(want), " but got ", dtype_name(t.dtype()),
                " for shape ", to_string(t.shape()));
}
inline void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  EVACLIP_CHECK(a.device() == b.device(), op, ": device mismatch ", device_name(a.device()), " ",
                to_string(a.shape()), " vs ", device_name(b.device()), " ", to_string(b.shape()));
}

}  // namespace evaclip
