// custom_variant.cpp — evaclip-custom-variant: a vision block of your own, trained with evaclip-train's
// command line. The block is docs/models.md's example: EVA02 with a GeGLU MLP (Shazeer 2020,
// w3(gelu(w1 x) * w2 x)) in place of SwiGLU + its sub-LN, 15 lines, registered in this program's list of
// blocks. Added to nn::CompiledBlocks (nn/families.hpp) instead, every program would run it.
//
//   evaclip-custom-variant --model tests/data/train/tiny_model.json --train-data tests/data/data/train.tsv \
//                          --batch-size 2 --steps 3                  (--block defaults to eva02-geglu)
//
// It compiles the fp32 training loop only, to build quickly.
#include "train_cli.hpp"

using namespace evaclip;
using namespace evaclip::nn;

namespace {

// --- the example of docs/models.md, "Adding a block" ---
struct GeGluMlp {
  Linear w1, w2, w3;  // gate (F, D), value (F, D), out (D, F)
  GeGluMlp(ParamInit& init, std::int64_t dim, std::int64_t hidden, double /*eps*/)
      : w1(init, dim, hidden, true), w2(init, dim, hidden, true), w3(init, hidden, dim, true) {}
  template <class P, class B>
  Var operator()(Tape<P, B>& t, const Var& x) const { return w3(t, mul(t, gelu(t, w1(t, x)), w2(t, x))); }
  void params(const std::string& p, ParamList& out) const {
    w1.params(p + "w1.", out), w2.params(p + "w2.", out), w3.params(p + "w3.", out);
  }
  double flops(double T) const { return 3 * gemm_flops(w1.weight, T); }  // three (F, D)-sized GEMMs
};
struct Eva02GeGluBlock : VisionBlock<EvaAttention<AttnFeatures{.rope = true, .subln = true}>, GeGluMlp> {
  using VisionBlock::VisionBlock;
  static constexpr const char* name = "eva02-geglu";
};
using MyBlocks = TypeList<Eva02GeGluBlock>;  // the one list entry
// --- end of the example ---

}  // namespace

int main(int argc, char** argv) {
  train::TrainOptions o;
  o.block = Eva02GeGluBlock::name;
  return examples::train_main<MyBlocks, TypeList<fp32>>(argc, argv, "evaclip-custom-variant", o);
}
