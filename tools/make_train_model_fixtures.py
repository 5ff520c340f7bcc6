#!/usr/bin/env python3
"""Generate the training-forward fixtures in tests/data/train_model/: FLIP patch dropout and drop path
(stochastic depth) as the *official* EVA-CLIP code runs them, in float64 on the CPU.

One tiny EVA02 CLIP (RoPE, sub-LN, SwiGLU) with patch_dropout 0.5 and drop_path_rate 0.5 over 3 blocks is
built by the official create_model (which sets RoPE=1, so the official PatchDropout also returns its kept
indices and the RoPE tables are gathered with them), given seeded random weights and run in training mode.
The random choices the official code makes are recorded, so the C++ test can replay them:

- the kept patch indices, by wrapping the official PatchDropout.forward;
- each drop path draw (whether a sample's branch was kept), by wrapping every block's official DropPath
  and reading which samples' outputs are nonzero; the wrapper checks that the output is exactly
  x * kept / (1 - rate), so the recorded flags are the whole story.

The loss differentiated is sum(W * image_features) with a fixed random W, so only the vision tower is
involved. Two cases are written: patch dropout alone (every DropPath's drop_prob set to 0, which timm's
drop_path treats as the identity) and the full training forward (both). Each is checked with a central
finite difference along a random direction, re-seeding torch before every forward so the same random
choices are drawn.

Also written, from the official code: the per-block drop path rates EVAVisionTransformer assigns for a few
(depth, drop_path_rate) pairs, and the number of patches the official PatchDropout keeps for a table of
(N, p) pairs.

The official package is obtained as tools/make_fixtures.py does (--eva-git / --eva-src / cache / download),
whose helpers this script imports.

Usage (from the repository root):
  /usr/bin/python3 tools/make_train_model_fixtures.py [--eva-git DIR | --eva-src DIR] [--out DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402  (shared: obtaining the official package, writer, weights, inputs)

DEFAULT_OUT = mf.REPO_ROOT / "tests" / "data" / "train_model"

SEED = 501
BATCH = 3
CONFIG = {
    "embed_dim": 8,
    "vision_cfg": {"image_size": 20, "layers": 3, "width": 16, "head_width": 8, "patch_size": 4,
                   "mlp_ratio": 1.3334, "eva_model_name": "eva-clip-tiny-02-train", "patch_dropout": 0.5,
                   "drop_path_rate": 0.5, "xattn": False, "fusedLN": False, "rope": True, "pt_hw_seq_len": 8,
                   "intp_freq": True, "naiveswiglu": True, "subln": True},
    "text_cfg": {"context_length": 4, "vocab_size": 10, "width": 8, "heads": 2, "layers": 1, "xattn": False,
                 "fusedLN": False},
    "custom_text": True,
}
# (depth, drop_path_rate) pairs whose official per-block rates are recorded; 40 x 0.4 is EVA01-CLIP-g-14.
SCHEDULES = [(1, 0.4), (3, 0.5), (7, 0.4), (12, 0.1), (40, 0.4)]
KEEP_N = [1, 2, 4, 10, 20, 25, 196, 256, 576]
KEEP_P = [0.1, 0.25, 0.3, 0.5, 0.7, 0.75, 0.9, 0.95]


class Recorder:
    """Wraps the official PatchDropout and DropPath modules of a model and records what they drew."""

    def __init__(self, torch, vis, evm):
        self.torch, self.keep_idx, self.drops = torch, [], []
        pd = vis.patch_dropout
        assert type(pd).__name__ == "PatchDropout" and pd.prob == CONFIG["vision_cfg"]["patch_dropout"]
        pd_forward = pd.forward

        def record_pd(x):
            out = pd_forward(x)
            if pd.training:
                assert isinstance(out, tuple), "with RoPE=1 the official PatchDropout returns (x, indices) in training"
                self.keep_idx.append(out[1].clone())
            return out

        pd.forward = record_pd
        self.modules = []  # (block index, DropPath module)
        for i, blk in enumerate(vis.blocks):
            if isinstance(blk.drop_path, evm.DropPath):
                self.modules.append((i, blk.drop_path))
                blk.drop_path.forward = self._wrap(i, blk.drop_path)

    def _wrap(self, i, mod):
        inner = mod.forward

        def record_dp(x):
            y = inner(x)
            kept = (y.flatten(1) != 0).any(dim=1)
            if mod.drop_prob > 0:
                factor = kept.to(x.dtype) / (1 - mod.drop_prob)
                assert self.torch.equal(y, x * factor.view(-1, *([1] * (x.ndim - 1)))), "unexpected DropPath output"
            else:
                assert self.torch.equal(y, x)
            self.drops.append((i, kept.clone()))
            return y

        return record_dp

    def reset(self):
        self.keep_idx.clear()
        self.drops.clear()


def run_case(torch, model, rec, x, w, fwd_seed, with_drop_path):
    """One training forward + backward of sum(w * image_features) with torch seeded by fwd_seed."""
    for _, mod in rec.modules:
        mod.drop_prob = mod.full_rate if with_drop_path else 0.0
    vis = model.visual
    vis.zero_grad(set_to_none=True)
    rec.reset()
    torch.manual_seed(fwd_seed)
    feats = model.encode_image(x)
    loss = (w * feats).sum()
    loss.backward()
    assert len(rec.keep_idx) == 1
    drops = list(rec.drops)
    grads = {f"grad.visual.{n}": p.grad.detach().clone().contiguous() for n, p in vis.named_parameters()}
    assert all(g is not None for g in grads.values())
    return feats.detach().clone(), rec.keep_idx[0].clone(), drops, grads, loss.item()


def fd_check(torch, model, x, w, fwd_seed, grads):
    vis = model.visual
    params = [(n, p) for n, p in vis.named_parameters()]
    gd = torch.Generator().manual_seed(SEED + 17)
    dirs = [torch.randn(p.shape, generator=gd, dtype=torch.float64) for _, p in params]
    analytic = sum((grads[f"grad.visual.{n}"] * d).sum() for (n, _), d in zip(params, dirs)).item()
    eps = 1e-5

    def loss_at(sign):
        with torch.no_grad():
            for (_, p), d in zip(params, dirs):
                p.add_(sign * eps * d)
            torch.manual_seed(fwd_seed)
            val = (w * model.encode_image(x)).sum().item()
            for (_, p), d in zip(params, dirs):
                p.sub_(sign * eps * d)
        return val

    numeric = (loss_at(+1) - loss_at(-1)) / (2 * eps)
    rel = abs(numeric - analytic) / max(1e-12, abs(analytic))
    assert rel < 1e-6, f"finite-difference check failed: {numeric} vs {analytic}"
    return rel


def official_schedules(torch, evm):
    out = {}
    for depth, rate in SCHEDULES:
        with contextlib.redirect_stdout(io.StringIO()):
            vit = evm.EVAVisionTransformer(img_size=8, patch_size=4, num_classes=4, embed_dim=8, depth=depth,
                                           num_heads=1, drop_path_rate=rate, use_mean_pooling=False)
        rates = [blk.drop_path.drop_prob if isinstance(blk.drop_path, evm.DropPath) else 0.0 for blk in vit.blocks]
        out[f"schedule.{depth}_{rate}"] = torch.tensor(rates, dtype=torch.float64)
    return out


def official_keep_counts(torch, PatchDropout):
    n, p, k = [], [], []
    for N in KEEP_N:
        for prob in KEEP_P:
            pd = PatchDropout(prob).train()
            out = pd(torch.zeros(1, 1 + N, 1))
            y = out[0] if isinstance(out, tuple) else out
            n.append(N)
            p.append(prob)
            k.append(y.shape[1] - 1)
    return {"keep.N": torch.tensor(n, dtype=torch.int64), "keep.p": torch.tensor(p, dtype=torch.float64),
            "keep.K": torch.tensor(k, dtype=torch.int64)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eva-git", help="git dir of baaivision/EVA holding the pinned commit")
    ap.add_argument("--eva-src", help="directory containing the eva_clip/ package (used in place)")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="output directory (default tests/data/train_model)")
    args = ap.parse_args()

    root, how = mf.obtain_eva_clip(args)
    sys.path.insert(0, str(root))
    os.environ.pop("RoPE", None)
    import numpy as np
    import torch
    torch.set_num_threads(1)
    with contextlib.redirect_stdout(io.StringIO()):
        import eva_clip
    from eva_clip import eva_vit_model as evm
    from eva_clip.transformer import PatchDropout
    from safetensors.numpy import load_file

    cfg_dir = mf.CACHE_ROOT / "configs"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    model_name = "evaclip-fixture-train-model"
    (cfg_dir / f"{model_name}.json").write_text(json.dumps(CONFIG, indent=2))
    eva_clip.add_model_config(cfg_dir / f"{model_name}.json")
    torch.manual_seed(SEED)
    with contextlib.redirect_stdout(io.StringIO()):
        model = eva_clip.create_model(model_name, pretrained=None, precision="fp32", device="cpu")
    assert os.environ.get("RoPE") == "1", "create_model must set RoPE=1 for a rope config"
    vis = model.visual
    vc = CONFIG["vision_cfg"]
    N = (vc["image_size"] // vc["patch_size"]) ** 2
    for i, blk in enumerate(vis.blocks):  # official linspace: block 0 gets rate 0 (an Identity)
        rate = blk.drop_path.drop_prob if isinstance(blk.drop_path, evm.DropPath) else 0.0
        assert abs(rate - vc["drop_path_rate"] * i / (vc["layers"] - 1)) < 1e-7, (i, rate)
        if isinstance(blk.drop_path, evm.DropPath):
            blk.drop_path.full_rate = rate
    mf.randomize(model, torch, SEED)
    weights = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items() if k.startswith("visual.")}
    rope_diffs = mf.rope_crosscheck(torch, np, vis, CONFIG, print)

    model = model.double().train()
    pixel_values, _ = mf.make_inputs(torch, CONFIG, BATCH, SEED)
    x = pixel_values.double()
    gw = torch.Generator().manual_seed(SEED + 3)
    w = torch.randn((BATCH, CONFIG["embed_dim"]), generator=gw, dtype=torch.float64)
    rec = Recorder(torch, vis, evm)

    # Case A: patch dropout alone.
    seed_a = SEED + 100
    feats_a, keep_a, drops_a, grads_a, loss_a = run_case(torch, model, rec, x, w, seed_a, with_drop_path=False)
    assert all(bool(k.all()) for _, k in drops_a), "drop_prob 0 must keep every sample"
    K = max(1, int(N * (1 - vc["patch_dropout"])))
    assert keep_a.shape == (BATCH, K) and all(len(set(r.tolist())) == K for r in keep_a)
    assert any(r.tolist() != sorted(r.tolist()) for r in keep_a), "indices are expected in noise order"
    fd_a = fd_check(torch, model, x, w, seed_a, grads_a)
    model.eval()
    with torch.no_grad():
        eval_feats = model.encode_image(x)
    model.train()
    assert (eval_feats - feats_a).abs().max() > 1e-3, "patch dropout should change the features"
    print(f"patch dropout: K {K} of {N}, loss {loss_a:.6f}, FD rel err {fd_a:.2e}")

    # Case B: patch dropout and drop path; pick the first forward seed whose draws drop and keep some
    # samples in each block with a nonzero rate (so both outcomes are replayed).
    for seed_b in range(SEED + 200, SEED + 300):
        feats_b, keep_b, drops_b, grads_b, loss_b = run_case(torch, model, rec, x, w, seed_b, with_drop_path=True)
        per_block = {}
        for i, kept in drops_b:
            per_block.setdefault(i, []).append(kept)
        if all(bool(torch.stack(v).any()) and not bool(torch.stack(v).all()) for v in per_block.values()):
            break
    else:
        raise RuntimeError("no forward seed drops and keeps in every block")
    assert [i for i, _ in drops_b] == [i for i, _ in rec.modules for _ in range(2)], "two draws per block, in order"
    fd_b = fd_check(torch, model, x, w, seed_b, grads_b)
    print(f"training forward (seed {seed_b}): loss {loss_b:.6f}, FD rel err {fd_b:.2e}")

    def drop_tensors(drops):
        out, seen = {}, {}
        for i, kept in drops:
            branch = "attn" if seen.get(i, 0) == 0 else "mlp"  # the official Block calls attention's first
            seen[i] = seen.get(i, 0) + 1
            out[f"drop.{i}.{branch}"] = kept.to(torch.float64)
        return out

    expected_a = {"keep_idx": keep_a, "image_features": feats_a, **grads_a}
    expected_b = {"keep_idx": keep_b, "image_features": feats_b, **drop_tensors(drops_b), **grads_b}
    counts = {**official_schedules(torch, evm), **official_keep_counts(torch, PatchDropout)}

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"generator": "tools/make_train_model_fixtures.py", "eva_commit": mf.EVA_COMMIT}
    (out / "config.json").write_text(json.dumps(CONFIG, indent=2) + "\n")
    files = {"weights": weights, "inputs": {"pixel_values": pixel_values, "loss_weight": w},
             "expected_patch_dropout": expected_a, "expected_train": expected_b, "official_counts": counts}
    for stem, tensors in files.items():
        path = out / f"{stem}.safetensors"
        mf.save_safetensors(tensors, str(path), meta)
        back = load_file(str(path))
        assert set(back) == set(tensors)
        for k, t in tensors.items():
            assert np.array_equal(back[k], t.detach().numpy()), k
    sizes = {p.name: p.stat().st_size for p in sorted(out.glob("*.safetensors"))}
    write_readme(out, how.replace(str(Path.home()), "~"), K, N, seed_a, seed_b, fd_a, fd_b, rope_diffs, sizes)
    print("wrote " + ", ".join(f"{k} {v} B" for k, v in sizes.items()))


def write_readme(out, how, K, N, seed_a, seed_b, fd_a, fd_b, rope_diffs, sizes):
    vc = CONFIG["vision_cfg"]
    L = ["# Training-forward fixtures from the official EVA-CLIP code\n",
         "Generated by `tools/make_train_model_fixtures.py` (see its docstring); do not edit by hand. "
         f"Official source: baaivision/EVA@{mf.EVA_COMMIT}, obtained by: {how}.\n",
         "## Model\n",
         f"`config.json`: an EVA02 vision tower (RoPE, sub-LN, SwiGLU), image {vc['image_size']}, patch "
         f"{vc['patch_size']} (grid {vc['image_size'] // vc['patch_size']}, N = {N}), width {vc['width']}, "
         f"{vc['width'] // vc['head_width']} heads of {vc['head_width']}, {vc['layers']} blocks, RoPE pt_hw_seq_len "
         f"{vc['pt_hw_seq_len']}, patch_dropout {vc['patch_dropout']} (K = {K}), drop_path_rate "
         f"{vc['drop_path_rate']} (block rates 0, 0.25, 0.5). Weights as in tests/data/models (seed {SEED}); "
         "only the `visual.*` keys are stored (float32, with the RoPE tables). The RoPE tables match an "
         f"independent float32 rebuild to {rope_diffs[0]:.3g}.\n",
         "## Files\n",
         f"- `inputs.safetensors`: `pixel_values` float32 [{BATCH},3,H,W] (normalised), `loss_weight` float64 "
         f"[{BATCH},E]. The loss is sum(loss_weight * image_features).",
         "- `expected_patch_dropout.safetensors` (every DropPath's drop_prob set to 0, torch seeded with "
         f"{seed_a}): `keep_idx` int64 [B,K], the patch indices (0-based, CLS excluded) the official "
         "PatchDropout kept, in its order; `image_features` float64 [B,E] (`encode_image` in training mode); "
         "`grad.visual.<key>` float64 for every vision parameter.",
         f"- `expected_train.safetensors` (patch dropout and drop path, torch seeded with {seed_b}): the same, "
         "plus `drop.<block>.attn` and `drop.<block>.mlp` float64 [B]: 1 where the official DropPath kept the "
         "sample's branch (scaled by 1/(1 - rate)), 0 where it zeroed it. Block 0 has rate 0 (an Identity) "
         "and no entries.",
         "- `official_counts.safetensors`: `schedule.<depth>_<rate>` float64 [depth], the drop path rate "
         "the official EVAVisionTransformer gives each block (torch.linspace in float32); `keep.N` int64, "
         "`keep.p` float64, `keep.K` int64: how many patch tokens the official PatchDropout keeps for N "
         "patches at probability p.\n",
         f"Central finite-difference checks of the gradient along a random direction: patch dropout {fd_a:.1e}, "
         f"training forward {fd_b:.1e} (relative).\n",
         "Sizes: " + ", ".join(f"{k} {v} B" for k, v in sizes.items()) + ".\n"]
    (out / "README.md").write_text("\n".join(L))


if __name__ == "__main__":
    main()
