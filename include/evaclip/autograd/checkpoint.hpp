// checkpoint.hpp — defines checkpoint(): activation checkpointing of one segment (e.g. a transformer block).
//
// The segment's forward runs without recording, so none of its activations are kept; the tape gets one
// closure holding only the segment's input. During backward that closure re-runs the segment on a fresh
// tape, backpropagates the output gradient through it, and adds the input gradient to the outer input.
// Parameters captured by the segment receive their gradients from the inner backward directly.
//
// The segment must compute the same values when re-run: it may not depend on state it changes (draw
// random numbers from a generator seeded per call, e.g. drop path). Gradients are bit-identical to the
// non-checkpointed run (tested).
#pragma once

#include <utility>

#include "evaclip/autograd/tape.hpp"

namespace evaclip {

// segment: Var(Tape<P, B>&, const Var&) — copied into the tape so it outlives the forward call.
template <class P, class B, class F>
Var checkpoint(Tape<P, B>& tape, const Var& x, F segment) {
  if (!tape.recording()) return segment(tape, x);
  Var out;
  {
    NoGrad no_record(tape);
    out = segment(tape, x);
  }
  // The segment may use parameters even when x needs no grad, so its result is treated as differentiable.
  Var y = Var::result(out.value(), true);
  tape.record([x, y, segment, backend = tape.backend]() mutable {
    if (!y.has_grad()) return;
    Tape<P, B> inner(backend);
    Var xi(x.value(), x.requires_grad());
    Var yi = segment(inner, xi);
    if (!yi.requires_grad()) return;  // nothing inside the segment is differentiable
    inner.backward(yi, y.grad());
    if (x.requires_grad() && xi.has_grad()) x.accumulate_grad(xi.grad());
  });
  return y;
}

}  // namespace evaclip
