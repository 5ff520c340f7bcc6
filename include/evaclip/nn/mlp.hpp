// mlp.hpp — defines the transformer MLPs: nn::GeluMlp (fc1 -> exact GELU -> fc2) and nn::SwiGluMlp
// (EVA02: w3(ffn_ln(silu(w1 x) * w2 x)), w1 the gate and w2 the value).
//
// An MLP is a constructor (ParamInit&, dim, hidden, eps), operator()(tape, x), params(prefix, out) under
// the checkpoint's key names, and flops(tokens), its forward GEMM FLOPs.
#pragma once

#include <string>

#include "evaclip/nn/linear.hpp"
#include "evaclip/ops/activations.hpp"
#include "evaclip/ops/swiglu_layernorm.hpp"

namespace evaclip::nn {

struct GeluMlp {
  Linear fc1, fc2;  // (F, D), (D, F)
  std::string fc1_name = "fc1", fc2_name = "fc2";  // the CLIP text tower calls them c_fc, c_proj
  GeluMlp(ParamInit& init, std::int64_t dim, std::int64_t hidden, double /*eps*/)
      : fc1(init, dim, hidden, true), fc2(init, hidden, dim, true) {}

  template <class P, class B>
  Var operator()(Tape<P, B>& t, const Var& x) const {
    return fc2(t, gelu(t, fc1(t, x)));
  }
  void params(const std::string& p, ParamList& out) const {
    fc1.params(p + fc1_name + ".", out);
    fc2.params(p + fc2_name + ".", out);
  }
  // Forward GEMM FLOPs over `tokens` rows (model_stats.hpp).
  double flops(double tokens) const { return gemm_flops(fc1.weight, tokens) + gemm_flops(fc2.weight, tokens); }
};

struct SwiGluMlp {
  Linear w1, w2, w3;  // gate (F, D), value (F, D), out (D, F)
  LayerNorm ffn_ln;   // over F
  SwiGluMlp(ParamInit& init, std::int64_t dim, std::int64_t hidden, double eps)
      : w1(init, dim, hidden, true), w2(init, dim, hidden, true), w3(init, hidden, dim, true), ffn_ln(init, hidden, eps) {}

  template <class P, class B>
  Var operator()(Tape<P, B>& t, const Var& x) const {
    // ffn_ln(silu(w1 x) * w2 x) as one op: the (..., F) product never reaches memory.
    return w3(t, swiglu_layernorm(t, w1(t, x), w2(t, x), ffn_ln.weight, ffn_ln.bias, ffn_ln.eps));
  }
  void params(const std::string& p, ParamList& out) const {
    w1.params(p + "w1.", out);
    w2.params(p + "w2.", out);
    ffn_ln.params(p + "ffn_ln.", out);
    w3.params(p + "w3.", out);
  }
  double flops(double tokens) const {
    return gemm_flops(w1.weight, tokens) + gemm_flops(w2.weight, tokens) + gemm_flops(w3.weight, tokens);
  }
};

}  // namespace evaclip::nn
