#!/usr/bin/env python3
"""Generate the optimiser fixtures in tests/data/train/ (read by tests/unit/train/test_*.cpp).

  optimizer.safetensors        five small tensors (a matrix, a 1-D bias, a 4-D tensor of large values, an all-zero
                               matrix and a rank-0 scalar) in two parameter groups, five steps of seeded gradients
                               (the bias has none at step 2) and lr factors, and after every step the weights that
                               - torch.optim.AdamW (float64) gives:                    adamw.<step>.<name>
                               - a float64 numpy implementation of DeepSpeed's FusedLamb kernel gives (written
                                 here from csrc/lamb/fused_lamb_cuda_kernel.cu @38327e0): lamb.<step>.<name>,
                                 with its trust ratios lamb_trust.<step>.<name>
                               All inputs are float32-representable, so a float32 run starts from the same values.
  eva02_b16_param_groups.tsv   every parameter of the official EVA02-CLIP-B-16 (CustomCLIP, as the training
                               scripts build it with --force-custom-clip): rank, tower, layer id (the official
                               assigner's), lr, lr_scale and weight decay of the group that the official
                               EVA-CLIP/rei/training/optim.py get_all_parameters() puts it in, for the B/16 recipe
                               flags of the official README (lr 5e-4, visual/text lr 2e-4/2e-5, wd 0.05,
                               visual/text ld 0.75), parsed by the official training/params.py.

The official source (eva_clip and training packages at make_fixtures.EVA_COMMIT): eva_clip as
tools/make_fixtures.py obtains it (same options and cache), training from --eva-src or its own cache
~/.cache/evaclip/EVA-<commit>-training, filled from --eva-git (or $EVACLIP_EVA_GIT).
Run from the repository root:
  /usr/bin/python3 tools/make_optimizer_fixtures.py --eva-git <git dir of baaivision/EVA>
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402  (shared: obtain_eva_clip, save_safetensors, EVA_COMMIT, CACHE_ROOT)

OUT = mf.REPO_ROOT / "tests" / "data" / "train"
TRAINING_PKG = "EVA-CLIP/rei/training"

# Optimiser fixture: (name, shape, init std or None for zeros / a value for rank 0, group, gradient std).
PARAMS = [
    ("w", (5, 7), 0.5, 0, 1.0),        # trust ratio inside the clamp
    ("big", (3, 2, 2, 2), 60.0, 0, 2.0),  # ||w|| / ||u|| above max_trust
    ("zero", (4, 3), None, 0, 0.5),    # ||w|| = 0 at step 0: ratio 1, not min_trust
    ("bias", (7,), 0.01, 1, 0.3),      # below min_trust; no gradient at step 2
    ("scale", (), 2.659260036932778, 1, 0.7),
]
GROUPS = [dict(base_lr=3e-3, lr_scale=0.75, weight_decay=0.05), dict(base_lr=5e-3, lr_scale=1.0, weight_decay=0.0)]
LR_FACTORS = [0.25, 0.5, 1.0, 0.8, 0.3]
SKIP = {(2, "bias")}
BETA1, BETA2, EPS, MIN_TRUST, MAX_TRUST = 0.9, 0.999, 1e-8, 0.01, 10.0
SEED = 1234

# The B/16 flags of the official README's pre-training script that params.py / optim.py read.
B16_FLAGS = ["--model=EVA02-CLIP-B-16", "--optimizer=lamb", "--lr=5e-4", "--visual-lr=2e-4", "--text-lr=2e-5",
             "--wd=0.05", "--visual-wd=0.05", "--text-wd=0.05", "--ld=1.0", "--visual-ld=0.75", "--text-ld=0.75"]


def lamb_reference(np, w, g, m, v, lr, wd, t):
    """FusedLamb on one tensor in float64 (bias correction on, eps outside the root, eps_mode 1)."""
    m = BETA1 * m + (1 - BETA1) * g
    v = BETA2 * v + (1 - BETA2) * g * g
    u = m / (np.sqrt(v) + EPS) + wd * w
    wn, un = np.sqrt(np.sum(w * w)), np.sqrt(np.sum(u * u))
    ratio = 1.0
    if wn != 0 and un != 0:
        ratio = min(max(wn / un, MIN_TRUST), MAX_TRUST)
    step_size = lr * np.sqrt(1 - BETA2 ** t) / (1 - BETA1 ** t)
    return w - step_size * ratio * u, m, v, ratio


def optimizer_fixture(torch, np):
    g = torch.Generator().manual_seed(SEED)

    def randn(shape, std):  # float32-representable values, kept as float64
        return (torch.randn(shape, generator=g, dtype=torch.float64) * std).float().double()

    init = {}
    for name, shape, std, _, _ in PARAMS:
        if shape == ():
            init[name] = torch.tensor(std, dtype=torch.float32).double()
        else:
            init[name] = torch.zeros(shape, dtype=torch.float64) if std is None else randn(shape, std)
    grads = [{n: randn(shape, gs) for n, shape, _, _, gs in PARAMS if (s, n) not in SKIP} for s in range(len(LR_FACTORS))]
    out = {f"init.{n}": t for n, t in init.items()}
    out["lr_factor"] = torch.tensor(LR_FACTORS, dtype=torch.float64)
    for s, gs in enumerate(grads):
        out.update({f"grad.{s}.{n}": t for n, t in gs.items()})

    # torch.optim.AdamW in float64, the same groups, the lr set before every step.
    params = {n: torch.nn.Parameter(init[n].clone()) for n in init}
    opt = torch.optim.AdamW([dict(params=[params[n] for n, *_, gi, _ in PARAMS if gi == k], lr=0.0,
                                  weight_decay=grp["weight_decay"]) for k, grp in enumerate(GROUPS)],
                            betas=(BETA1, BETA2), eps=EPS, foreach=False)
    for s, factor in enumerate(LR_FACTORS):
        for pg, grp in zip(opt.param_groups, GROUPS):
            pg["lr"] = grp["base_lr"] * factor * grp["lr_scale"]
        for n, p in params.items():
            p.grad = grads[s][n].clone() if n in grads[s] else None
        opt.step()
        out.update({f"adamw.{s}.{n}": p.detach().clone() for n, p in params.items()})

    # FusedLamb reference.
    state = {n: dict(w=init[n].numpy().copy(), m=np.zeros(init[n].shape), v=np.zeros(init[n].shape), t=0) for n in init}
    ratios = {}
    for s, factor in enumerate(LR_FACTORS):
        for n, _, _, gi, _ in PARAMS:
            st, grp = state[n], GROUPS[gi]
            if n in grads[s]:
                st["t"] += 1
                lr = grp["base_lr"] * factor * grp["lr_scale"]
                st["w"], st["m"], st["v"], r = lamb_reference(np, st["w"], grads[s][n].numpy(), st["m"], st["v"], lr,
                                                              grp["weight_decay"], st["t"])
                out[f"lamb_trust.{s}.{n}"] = torch.tensor(r, dtype=torch.float64)
                ratios[(s, n)] = r
            out[f"lamb.{s}.{n}"] = torch.from_numpy(np.array(st["w"], dtype=np.float64))
    # The fixture must exercise every branch of the trust ratio.
    assert ratios[(0, "zero")] == 1.0 and ratios[(0, "big")] == MAX_TRUST and ratios[(0, "bias")] == MIN_TRUST
    assert MIN_TRUST < ratios[(0, "w")] < MAX_TRUST
    path = OUT / "optimizer.safetensors"
    mf.save_safetensors(out, str(path), {"generator": "tools/make_optimizer_fixtures.py", "seed": SEED})
    print(f"wrote {path} ({path.stat().st_size} bytes); step-0 trust ratios "
          + ", ".join(f"{n} {ratios[(0, n)]:.4g}" for n, *_ in PARAMS))


def obtain_training(args, root: Path) -> Path:
    """Returns the directory holding the official training package: `root` when it has one (--eva-src),
    else its own cache directory (kept apart from make_fixtures' cache, which --eva-git rebuilds), filled
    from --eva-git (or $EVACLIP_EVA_GIT) when missing."""
    if (root / "training" / "optim.py").is_file():
        return root
    cache = mf.CACHE_ROOT / f"EVA-{mf.EVA_COMMIT[:12]}-training"
    troot = cache / "EVA-CLIP" / "rei"
    if (troot / "training" / "optim.py").is_file():
        return troot
    git = args.eva_git or os.environ.get("EVACLIP_EVA_GIT")
    if not git:
        sys.exit(f"{troot / 'training'} is missing: pass --eva-git <git dir of {mf.EVA_REPO} holding {mf.EVA_COMMIT}>")
    tar = subprocess.run(["git", "--git-dir", str(mf._git_dir(Path(git))), "archive", mf.EVA_COMMIT, TRAINING_PKG],
                         check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        tf.extractall(cache)
    return troot


def param_group_fixture(torch, roots):
    os.environ.pop("RoPE", None)
    with contextlib.redirect_stdout(io.StringIO()):  # "please install xformers / apex"
        import eva_clip
        from training import optim, params
    for mod, root in zip((eva_clip, optim), roots):
        assert Path(mod.__file__).resolve().is_relative_to(root.resolve()), mod.__file__
    args, _ = params.parse_args(B16_FLAGS)
    args.rank = args.local_rank = 1  # not the master: the official code only logs on rank 0
    torch.manual_seed(0)
    with contextlib.redirect_stdout(io.StringIO()):
        model = eva_clip.create_model("EVA02-CLIP-B-16", pretrained=None, precision="fp32", device="cpu",
                                      force_custom_clip=True)
    assert type(model).__name__ == "CustomCLIP"
    groups = optim.get_all_parameters(args, model)
    # get_all_parameters returns the groups without their names (which hold the layer id): ask the official
    # layer-id assigners that it used.
    assigners = dict(zip(("visual", "text"), optim.get_assigner(args, model)))
    names = {id(p): n for n, p in model.named_parameters()}
    rows = []
    for grp in groups:
        for p in grp["params"]:
            n, tower = names[id(p)], grp["group"]
            layer = assigners[tower].get_layer_id(n) if tower in assigners else -1
            rows.append((n, p.ndim, tower, layer, grp["lr"], grp["lr_scale"], grp["weight_decay"]))
    assert len(rows) == len(names), "every parameter is in exactly one group"
    path = OUT / "eva02_b16_param_groups.tsv"
    with open(path, "w") as f:
        f.write("# EVA02-CLIP-B-16 parameter groups from the official training/optim.py get_all_parameters(), flags: "
                + " ".join(B16_FLAGS) + "\n")
        f.write("name\tndim\ttower\tlayer_id\tlr\tlr_scale\tweight_decay\n")
        for r in rows:
            f.write("\t".join([r[0], str(r[1]), r[2], str(r[3])] + [repr(float(x)) for x in r[4:]]) + "\n")
    print(f"wrote {path}: {len(rows)} parameters in {len(groups)} groups ({path.stat().st_size} bytes)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eva-git", help="git dir of baaivision/EVA holding the pinned commit")
    ap.add_argument("--eva-src", help="directory containing eva_clip/ and training/ (used in place)")
    args = ap.parse_args()
    root, how = mf.obtain_eva_clip(args)
    troot = obtain_training(args, root)
    sys.path[:0] = [str(root), str(troot)]
    import numpy as np
    import torch
    torch.set_num_threads(1)
    print(f"official source: {how}; torch {torch.__version__}, numpy {np.__version__}")
    OUT.mkdir(parents=True, exist_ok=True)
    optimizer_fixture(torch, np)
    param_group_fixture(torch, (root, troot))


if __name__ == "__main__":
    main()
