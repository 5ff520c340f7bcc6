// gradcheck.hpp — defines gradcheck(): tape gradients against central finite differences, in fp64.
//
// For a function f of some inputs, the scalar checked is L = sum(W ⊙ f(inputs)) with a fixed random W,
// so every output element contributes with a different weight. The analytic gradient comes from one
// backward seeded with W; the numeric one from (L(x + h) - L(x - h)) / 2h per input element.
#pragma once

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "evaclip/autograd/tape.hpp"

namespace evaclip {

struct GradcheckReport {
  bool ok = true;
  double max_abs_err = 0;
  double worst_fraction = 0;  // max over elements of |err| / (atol + rtol |numeric|); ok iff <= 1
  std::string worst;          // "input 1 [7]: analytic .. numeric .."
};

struct GradcheckOptions {
  double step = 1e-6;
  double atol = 1e-7;
  double rtol = 1e-5;
  std::uint64_t seed = 1234;
};

// f: Var(Tape<fp64, Cpu>&, const std::vector<Var>&). Inputs are f64 host tensors; every one is checked.
template <class F>
GradcheckReport gradcheck(F&& f, const std::vector<Tensor>& inputs, GradcheckOptions opt = {}) {
  auto run = [&](Tape<fp64, Cpu>& tape, const std::vector<Tensor>& xs, bool grad) {
    std::vector<Var> vars;
    for (const auto& x : xs) vars.emplace_back(x, grad);
    return std::pair{f(tape, vars), vars};
  };
  std::vector<Tensor> xs;
  for (const auto& x : inputs) {
    check_dtype("gradcheck", x, DType::f64);
    xs.push_back(x.contiguous().clone());
  }

  Tape<fp64, Cpu> tape;
  auto [out, vars] = run(tape, xs, true);
  Rng rng(opt.seed);
  const Tensor w = Tensor::randn(out.shape(), DType::f64, rng);
  tape.backward(out, w.clone());

  auto loss = [&]() {
    Tape<fp64, Cpu> t;
    NoGrad ng(t);
    const Var y = run(t, xs, false).first;
    const double* yp = y.value().contiguous().data<double>();
    const double* wp = w.data<double>();
    double s = 0;
    for (std::int64_t i = 0; i < y.value().numel(); ++i) s += yp[i] * wp[i];
    return s;
  };

  GradcheckReport rep;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    double* p = xs[k].data<double>();
    const std::vector<double> analytic =
        vars[k].has_grad() ? vars[k].grad().to_vector() : std::vector<double>(std::size_t(xs[k].numel()), 0.0);
    for (std::int64_t i = 0; i < xs[k].numel(); ++i) {
      const double orig = p[i];
      p[i] = orig + opt.step;
      const double lp = loss();
      p[i] = orig - opt.step;
      const double lm = loss();
      p[i] = orig;
      const double numeric = (lp - lm) / (2 * opt.step);
      const double err = std::abs(analytic[std::size_t(i)] - numeric);
      const double frac = err / (opt.atol + opt.rtol * std::abs(numeric));
      rep.max_abs_err = std::max(rep.max_abs_err, err);
      if (frac > rep.worst_fraction) {
        rep.worst_fraction = frac;
        std::ostringstream os;
        os << "input " << k << " [" << i << "]: analytic " << analytic[std::size_t(i)] << " numeric " << numeric;
        rep.worst = os.str();
      }
    }
  }
  rep.ok = rep.worst_fraction <= 1.0;
  return rep;
}

}  // namespace evaclip
