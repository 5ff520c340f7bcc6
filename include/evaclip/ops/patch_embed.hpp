// patch_embed.hpp — defines patch_embed(tape, images, w, b, patch): the ViT patch embedding (a conv with
// kernel = stride = patch) producing tokens, with backward.
#pragma once

#include "evaclip/ops/cpu/patch_embed.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// images: (B, C, H, W) with H, W multiples of P; w: (D, C, P, P) (torch conv layout); b: (D,) or an
// undefined Var (no bias). Returns (B, N, D), N = (H/P)(W/P), token n = py·(W/P) + px.
template <class P, class B>
Var patch_embed(Tape<P, B>& tape, const Var& images, const Var& w, const Var& b, std::int64_t patch) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "patch_embed", "images", images);
  check_arg(tape, "patch_embed", "weight", w);
  EVACLIP_CHECK(images.shape().size() == 4, "patch_embed: images has shape ", to_string(images.shape()),
                ", expected (B, C, H, W)");
  EVACLIP_CHECK(patch >= 1, "patch_embed: patch size ", patch, " must be positive");
  const cpu::PatchGeometry g{images.shape()[0], images.shape()[1], images.shape()[2], images.shape()[3], patch};
  EVACLIP_CHECK(g.H % patch == 0 && g.W % patch == 0, "patch_embed: images ", to_string(images.shape()), ": H = ", g.H,
                " and W = ", g.W, " must be multiples of the patch size ", patch);
  EVACLIP_CHECK(w.shape().size() == 4, "patch_embed: weight has shape ", to_string(w.shape()),
                ", expected (D, C, P, P)");
  const std::int64_t D = w.shape()[0];
  check_shape("patch_embed", "weight", w, {D, g.C, patch, patch});
  if (b.defined()) {
    check_arg(tape, "patch_embed", "bias", b);
    check_shape("patch_embed", "bias", b, {D});
  }
  Tensor y = new_act(tape, {g.B, g.tokens(), D});
  patch_embed_forward<Acc>(tape.backend, y.data<T>(), images.value().data<T>(), w.value().data<T>(), data_or_null<T>(b),
                           g, D);
  return differentiable(tape, y, {images, w, b}, [=](const auto& be, auto& grads, const T* dy) {
    patch_embed_backward<Acc>(be, grads[0], grads[1], grads[2], dy, images.value().data<T>(), w.value().data<T>(), g,
                              D);
  });
}

}  // namespace evaclip
