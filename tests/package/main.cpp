// A downstream program: uses evaclip only through the package (find_package or add_subdirectory).
// LayerNorm of x = (1, 2, 3, 4) with unit weight and zero bias, then backward of sum(y).
#include <cmath>
#include <cstdio>
#include <vector>

#include <evaclip/evaclip.hpp>

int main() {
  using namespace evaclip;
  Tape<fp32> tape;
  const Var x = Var::parameter(Tensor::from({1, 4}, DType::f32, std::vector<float>{1, 2, 3, 4}));
  const Var w = Var::parameter(Tensor::full({4}, DType::f32, 1.0));
  const Var b = Var::parameter(Tensor::zeros({4}, DType::f32));
  const Var y = layernorm(tape, x, w, b, 1e-5);  // (1, 4)
  tape.backward(y);                              // d(sum y)

  const double y3 = y.value().to_vector()[3], dw3 = w.grad().to_vector()[3], db0 = b.grad().to_vector()[0];
  const double expect = 1.5 / std::sqrt(1.25 + 1e-5);  // (4 - mean) / sqrt(var + eps)
  std::printf("evaclip package test: layernorm y[3] = %.6f (expected %.6f), dw[3] = %.6f, db[0] = %.1f\n", y3, expect,
              dw3, db0);
  const bool ok = std::abs(y3 - expect) < 1e-5 && std::abs(dw3 - expect) < 1e-5 && db0 == 1.0;
  std::puts(ok ? "evaclip package test: OK" : "evaclip package test: MISMATCH");
  return ok ? 0 : 1;
}
