// ablate_attention.cu — defines the attention kernel ablation, `ablate_attention N`: the CPU reference
// cpu::rope_attention_forward, the production launcher cuda::rope_attention_forward (the flash kernel with
// RoPE on load) as version 0 and the candidates below, at the released models' attention shapes (harness:
// ablation.cuh).
//   v1  the unfused sequence (RoPE, score GEMM, softmax, value GEMM: attention_unfused.cuh), which the
//       production launcher runs when be.fusion.attention is off: what the flash kernel buys.
//   v2  RoPE as its own kernel (cuda::rope2d_forward into scratch q and k), then the flash kernel without
//       tables: what rotating on the tile loads saves (rope2d_forward may contract to FMAs, so q and k
//       can differ from the CPU's by a rounding). Without RoPE it is version 0, so its ratio there shows
//       the timing noise.
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ablation.cuh"
#include "evaclip/ops/attention_args.hpp"
#include "evaclip/ops/cpu/rope_attention.hpp"
#include "evaclip/ops/cuda/attention.cuh"
#include "evaclip/ops/cuda/rope.cuh"

using namespace evaclip;

namespace {

template <class T>
using Args = AttentionArgs<T, float>;

// v1: the production launcher with the attention fusion switched off.
template <class T>
void attention_unfused(cuda::Backend be, T* o, float* lse, const Args<T>& a) {
  be.fusion.attention = false;
  cuda::rope_attention_forward(be, o, lse, a);
}

// v2: rotate q and k into scratch, then attend without tables.
template <class T>
void attention_rope_apart(cuda::Backend be, T* o, float* lse, const Args<T>& a) {
  if (!a.rope()) return cuda::rope_attention_forward(be, o, lse, a);
  const Tensor qr = Tensor::empty({a.elements()}, dtype_of<T>(), Device::cuda);
  const Tensor kr = Tensor::empty({a.elements()}, dtype_of<T>(), Device::cuda);
  for (auto [dst, src] : {std::pair{qr.data<T>(), a.q}, std::pair{kr.data<T>(), a.k}})
    cuda::rope2d_forward<float>(be, dst, src, a.cos, a.sin, a.batch, a.heads, a.tokens, a.head_dim, a.prefix,
                                a.per_sample);
  Args<T> plain = a;
  plain.q = qr.data<T>(), plain.k = kr.data<T>();
  plain.cos = plain.sin = nullptr;
  plain.prefix = 0;
  cuda::rope_attention_forward(be, o, lse, plain);
}

// Version v is kernels<T>[v]: every version has the production launcher's signature.
template <class T>
using Kernel = void (*)(cuda::Backend, T*, float*, const Args<T>&);
template <class T>
constexpr Kernel<T> kernels[] = {cuda::rope_attention_forward<T, float>, attention_unfused<T>, attention_rope_apart<T>};

struct Attention {
  static constexpr const char* name = "attention";
  static constexpr const char* reference = "cpu::rope_attention_forward";
  static constexpr ablation::Rate rate = ablation::Rate::flops;
  static constexpr const char* versions[] = {
      "cuda::rope_attention_forward: the flash kernel, RoPE on the tile loads",
      "the unfused sequence (be.fusion.attention = false): RoPE, score GEMM, softmax, value GEMM",
      "cuda::rope2d_forward on q and k, then the flash kernel without RoPE",
  };

  // B samples of H heads, L tokens, head dim hd; RoPE on the tokens after the CLS token; causal (text).
  struct Case {
    std::string label;
    std::int64_t B, H, L, hd;
    bool rope, causal;
  };
  // The towers' attention shapes: 64 images as bench_attention_cuda.cu's smaller batch, 1024 captions as
  // its text case. EVA02 image towers rotate (RoPE); EVA01 (g/14) and bigE do not; text is causal.
  static std::vector<Case> cases() {
    return {{"B/16 image 64x12x197 hd64 RoPE", 64, 12, 197, 64, true, false},
            {"L/14 image 64x16x257 hd64 RoPE", 64, 16, 257, 64, true, false},
            {"L/14-336 image 64x16x577 hd64 RoPE", 64, 16, 577, 64, true, false},
            {"g/14 image 64x16x257 hd88", 64, 16, 257, 88, false, false},
            {"bigE/14 image 64x16x257 hd112", 64, 16, 257, 112, false, false},
            {"L/14 text 1024x12x77 hd64 causal", 1024, 12, 77, 64, false, true}};
  }

  // o = attention(rope(q), rope(k), v) and its row log-sum-exp. q, k, v uniform of std 1 (the GPU test
  // draws N(0, 1)); cos and sin of uniform angles in [-3.2, 3.2], as the GPU test's tables.
  template <class T>
  struct Problem {
    Case c;
    Tensor q, k, v, cos, sin, o_ref, lse_ref;  // host
    Tensor dq, dk, dv, dcos, dsin, o, lse;     // device
    explicit Problem(const Case& cs)
        : c(cs),
          q(ablation::random_host({c.B, c.H, c.L, c.hd}, dtype_of<T>(), 1, 0.0, 1.0)),
          k(ablation::random_host({c.B, c.H, c.L, c.hd}, dtype_of<T>(), 2, 0.0, 1.0)),
          v(ablation::random_host({c.B, c.H, c.L, c.hd}, dtype_of<T>(), 3, 0.0, 1.0)),
          cos(table(std::cos)),
          sin(table(std::sin)),
          o_ref(Tensor::empty({c.B, c.H, c.L, c.hd}, dtype_of<T>())),
          lse_ref(Tensor::empty({c.B, c.H, c.L}, DType::f32)),
          dq(q.to(Device::cuda)),
          dk(k.to(Device::cuda)),
          dv(v.to(Device::cuda)),
          dcos(cos.to(Device::cuda)),
          dsin(sin.to(Device::cuda)),
          o(Tensor::empty(o_ref.shape(), o_ref.dtype(), Device::cuda)),
          lse(Tensor::empty(lse_ref.shape(), DType::f32, Device::cuda)) {
      cpu::rope_attention_forward(cpu::Backend{}, o_ref.data<T>(), lse_ref.data<float>(), args(q, k, v, cos, sin));
    }
    // f(angle) of the angles (seed 4), as float: (L - 1, hd) for the one prefix token.
    Tensor table(double (*f)(double)) const {
      const Tensor angle = ablation::random_host({c.L - 1, c.hd}, DType::f64, 4, 0.0, 3.2 / std::sqrt(3.0));
      Tensor t = Tensor::empty(angle.shape(), DType::f32);
      for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = float(f(angle.data<double>()[i]));
      return t;
    }
    Args<T> args(const Tensor& q_, const Tensor& k_, const Tensor& v_, const Tensor& cos_, const Tensor& sin_) const {
      return {.q = q_.data<T>(),
              .k = k_.data<T>(),
              .v = v_.data<T>(),
              .cos = c.rope ? cos_.data<float>() : nullptr,
              .sin = c.rope ? sin_.data<float>() : nullptr,
              .batch = c.B,
              .heads = c.H,
              .tokens = c.L,
              .head_dim = c.hd,
              .prefix = c.rope ? 1 : 0,
              .causal = c.causal,
              .scale = 1.0 / std::sqrt(double(c.hd))};
    }
    void launch(int version) {
      kernels<T>[version](cuda::Backend{}, o.data<T>(), lse.data<float>(), args(dq, dk, dv, dcos, dsin));
    }
    // o and lse within T's tolerance (as the GPU test).
    std::vector<ablation::Output> outputs() {
      return {{"o", &o_ref, &o, ablation::tolerance<T>()}, {"lse", &lse_ref, &lse, ablation::tolerance<T>()}};
    }
    // 4 L^2 hd per (sample, head): q k^T and P v (causal: half); the RoPE is not counted.
    double work() const {
      return 4.0 * double(c.L) * double(c.L) * double(c.hd) * double(c.B * c.H) * (c.causal ? 0.5 : 1.0);
    }
  };
};

static_assert(std::size(Attention::versions) == std::size(kernels<float>));

}  // namespace

int main(int argc, char** argv) { return ablation::run<Attention>(argc, argv); }
