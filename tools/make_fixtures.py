#!/usr/bin/env python3
"""Generate the EVA-CLIP reference fixtures in tests/data/models/<name>/.

Each fixture is a tiny EVA-CLIP model built by the *official* EVA-CLIP Python package
(baaivision/EVA, folder EVA-CLIP/rei/eva_clip, pinned at EVA_COMMIT) with seeded random weights, run
in float64 on the CPU.  The official package is never copied into this project: it is imported at run
time from a cache directory, ~/.cache/evaclip/EVA-<commit>/EVA-CLIP/rei/eva_clip, which this script
fills from one of (first that applies):

  --eva-src DIR     (or $EVACLIP_EVA_SRC) a directory that contains the eva_clip/ package
                    (e.g. a checkout's EVA-CLIP/rei); used in place, not copied;
  --eva-git GITDIR  (or $EVACLIP_EVA_GIT) a git repository / bare git dir of baaivision/EVA holding
                    EVA_COMMIT; `git archive EVA_COMMIT EVA-CLIP/rei/eva_clip` is unpacked into the cache;
  an existing cache directory for EVA_COMMIT;
  otherwise the GitHub tarball of baaivision/EVA at EVA_COMMIT is downloaded (network) and only
                    EVA-CLIP/rei/eva_clip is unpacked into the cache.

The committed fixtures are plain files; tests never need this script, Python or the network.

Files written per fixture (see tests/data/models/README.md, which this script also writes):
  config.json           the model config in the official model_configs schema
  weights.safetensors   the model's state_dict in the official key layout, float32
  inputs.safetensors    pixel_values f32 [N,3,H,W] (normalised), input_ids i64 [N,ctx]
  expected.safetensors  float64 outputs of the official code (features, logits, loss, grad.<key>)

Requirements (Debian 12): python3-torch (1.13), python3-torchvision, python3-numpy, python3-ftfy or
pip ftfy, regex, and pip `timm==0.9.16 einops==0.8.0 safetensors`.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

EVA_REPO = "baaivision/EVA"
EVA_COMMIT = "5623d08bb08a8268c7bc18e1d9b8b4bd651fe4d9"
EVA_PKG = "EVA-CLIP/rei/eva_clip"
ARCHIVE_URL = "https://codeload.github.com/{repo}/tar.gz/{commit}"

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "models"
CACHE_ROOT = Path(os.environ.get("EVACLIP_CACHE", Path.home() / ".cache" / "evaclip"))

# OpenAI CLIP normalisation (the official constants.py values).
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


# ----------------------------------------------------------------------------------------------
# Fixture definitions.  Each entry is the config.json (official schema; "custom_text": true selects
# the CustomCLIP class in the official create_model, exactly as in the official configs) plus the
# batch size, the seed and what the script asserts about the built model.
# ----------------------------------------------------------------------------------------------
def _text(ctx, vocab, width, heads, layers=2):
    return {"context_length": ctx, "vocab_size": vocab, "width": width, "heads": heads, "layers": layers,
            "xattn": False, "fusedLN": False}


FIXTURES = {
    # EVA01 block: fused qkv with q/v bias, GELU MLP, pre-norm.  Official CLIP class.
    "eva01_tiny": dict(
        seed=101, batch=3, klass="CLIP", rope=False, postnorm=False, swiglu=False, layer_scale=False,
        config={
            "embed_dim": 16,
            "vision_cfg": {"image_size": 28, "layers": 2, "width": 32, "head_width": 8, "mlp_ratio": 1.5,
                           "patch_size": 7, "eva_model_name": "eva-clip-tiny-01", "drop_path_rate": 0.0,
                           "xattn": False, "fusedLN": False},
            "text_cfg": _text(8, 100, 16, 2),
        }),
    # Same block with layer scale (gamma_1 / gamma_2), as in EVA01-CLIP-B-16.  Official CLIP class.
    "eva01_ls_tiny": dict(
        seed=102, batch=2, klass="CLIP", rope=False, postnorm=False, swiglu=False, layer_scale=True,
        config={
            "embed_dim": 16,
            "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "mlp_ratio": 1.25,
                           "patch_size": 8, "eva_model_name": "eva-clip-tiny-01-ls", "ls_init_value": 0.1,
                           "drop_path_rate": 0.0, "xattn": False, "fusedLN": False},
            "text_cfg": _text(10, 100, 16, 2),
        }),
    # EVA02 block: q/k/v projections, q/v bias, sub-LN, 2D RoPE with intp_freq, SwiGLU + ffn_ln.
    # pt_hw_seq_len == grid (RoPE at its pretraining grid).  CustomCLIP (text under "text.").
    "eva02_tiny": dict(
        seed=201, batch=3, klass="CustomCLIP", rope=True, postnorm=False, swiglu=True, layer_scale=False,
        config={
            "embed_dim": 16,
            "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8,
                           "mlp_ratio": 1.3334, "eva_model_name": "eva-clip-tiny-02", "drop_path_rate": 0.0,
                           "xattn": False, "fusedLN": False, "rope": True, "pt_hw_seq_len": 4,
                           "intp_freq": True, "naiveswiglu": True, "subln": True},
            "text_cfg": _text(12, 100, 16, 2),
            "custom_text": True,
        }),
    # Same block at a grid of 7 with pt_hw_seq_len 8: interpolated RoPE positions t = i * 8/7, the same
    # ratio as EVA02-CLIP-B-16 (pt 16, grid 14).  Official CLIP class (text keys at the top level).
    "eva02_tiny_interp": dict(
        seed=202, batch=2, klass="CLIP", rope=True, postnorm=False, swiglu=True, layer_scale=False,
        config={
            "embed_dim": 16,
            "vision_cfg": {"image_size": 28, "layers": 2, "width": 32, "head_width": 8, "patch_size": 4,
                           "mlp_ratio": 1.3334, "eva_model_name": "eva-clip-tiny-02-interp", "drop_path_rate": 0.0,
                           "xattn": False, "fusedLN": False, "rope": True, "pt_hw_seq_len": 8,
                           "intp_freq": True, "naiveswiglu": True, "subln": True},
            "text_cfg": _text(8, 100, 16, 2),
        }),
    # EVA02-CLIP-E block: fused qkv, GELU, post-norm; no RoPE / SwiGLU / sub-LN.  CustomCLIP.
    "eva02e_tiny": dict(
        seed=301, batch=3, klass="CustomCLIP", rope=False, postnorm=True, swiglu=False, layer_scale=False,
        config={
            "embed_dim": 16,
            "vision_cfg": {"image_size": 28, "layers": 2, "width": 32, "head_width": 16, "mlp_ratio": 1.5,
                           "patch_size": 7, "eva_model_name": "eva-clip-tiny-02-e", "drop_path_rate": 0,
                           "xattn": False, "postnorm": True, "fusedLN": False},
            "text_cfg": _text(10, 100, 16, 2),
            "custom_text": True,
        }),
}

# Built only when named with --only (too large to commit): the released EVA02-CLIP-B-16 architecture with
# random weights, for the documented full-size check (docs/models.md); write it outside the repository.
FULL_SIZE = {
    "eva02_clip_b16_full": dict(
        seed=401, batch=2, klass="CustomCLIP", rope=True, postnorm=False, swiglu=True, layer_scale=False,
        fd_tol=1e-5,  # a directional difference over 150M parameters carries more truncation error
        config={
            "embed_dim": 512,
            "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "head_width": 64, "patch_size": 16,
                           "mlp_ratio": 2.6667, "eva_model_name": "eva-clip-b-16-X", "drop_path_rate": 0.0,
                           "xattn": False, "fusedLN": False, "rope": True, "pt_hw_seq_len": 16,
                           "intp_freq": True, "naiveswiglu": True, "subln": True},
            "text_cfg": _text(77, 49408, 512, 8, layers=12),
            "custom_text": True,
        }),
}


# ----------------------------------------------------------------------------------------------
# Getting the official package.
# ----------------------------------------------------------------------------------------------
def _tree_digest(pkg_dir: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(pkg_dir.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(pkg_dir)).encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def obtain_eva_clip(args) -> tuple[Path, str]:
    """Returns (directory to put on sys.path, how it was obtained)."""
    src = args.eva_src or os.environ.get("EVACLIP_EVA_SRC")
    if src:
        d = Path(src).resolve()
        if not (d / "eva_clip" / "__init__.py").is_file():
            sys.exit(f"--eva-src {d}: no eva_clip/__init__.py there")
        return d, f"source directory {d} (used in place)"

    cache = CACHE_ROOT / f"EVA-{EVA_COMMIT[:12]}"
    root = cache / "EVA-CLIP" / "rei"
    git = args.eva_git or os.environ.get("EVACLIP_EVA_GIT")
    if git:
        if cache.exists():
            shutil.rmtree(cache)
        cache.mkdir(parents=True)
        tar_bytes = subprocess.run(["git", "--git-dir", str(_git_dir(Path(git))), "archive", EVA_COMMIT, EVA_PKG],
                                   check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tf:
            tf.extractall(cache)
        return root, f"`git archive {EVA_COMMIT[:12]} {EVA_PKG}` from a baaivision/EVA git directory into {cache}"

    if (root / "eva_clip" / "__init__.py").is_file():
        return root, f"cache {cache}"

    url = ARCHIVE_URL.format(repo=EVA_REPO, commit=EVA_COMMIT)
    print(f"downloading {url} (only {EVA_PKG} is kept) ...", flush=True)
    tmp = cache.with_suffix(".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        with urllib.request.urlopen(url, timeout=120) as resp, tarfile.open(fileobj=resp, mode="r|gz") as tf:
            for m in tf:
                parts = m.name.split("/", 1)  # strip the "EVA-<commit>/" top directory
                if len(parts) == 2 and parts[1].startswith(EVA_PKG + "/") and (m.isfile() or m.isdir()):
                    m.name = parts[1]
                    tf.extract(m, tmp)
    except OSError as e:
        sys.exit(f"could not download {url}: {e}\n"
                 f"without network, pass --eva-git <git dir of {EVA_REPO} holding {EVA_COMMIT}> "
                 f"or --eva-src <directory containing eva_clip/>")
    if not (tmp / EVA_PKG / "__init__.py").is_file():
        sys.exit(f"the archive from {url} has no {EVA_PKG}")
    if cache.exists():
        shutil.rmtree(cache)
    tmp.rename(cache)
    return root, f"GitHub archive {url} into {cache}"


def _git_dir(p: Path) -> Path:
    if (p / ".git").exists():
        return p / ".git"
    return p


# ----------------------------------------------------------------------------------------------
# safetensors writer with a deterministic byte layout (the safetensors package orders the metadata
# map at random, so its files differ from run to run).  Keys sorted by name, data in that order,
# header JSON padded with spaces to a multiple of 8 bytes, as the format allows.
# ----------------------------------------------------------------------------------------------
_ST_DTYPES = {"float64": "F64", "float32": "F32", "int64": "I64"}


def save_safetensors(tensors: dict, path: str, metadata: dict):
    header = {"__metadata__": {k: str(metadata[k]) for k in sorted(metadata)}}
    blobs, offset = [], 0
    for k in sorted(tensors):
        t = tensors[k].detach().cpu().contiguous()
        dt = _ST_DTYPES[str(t.dtype).replace("torch.", "")]
        b = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[k] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


# ----------------------------------------------------------------------------------------------
# Random weights with O(1) activations.
# ----------------------------------------------------------------------------------------------
def randomize(model, torch, seed: int):
    """Sets every parameter to seeded random float32 values, chosen by name and shape so that all
    activations stay O(1): LayerNorm weights 1 +- 0.1, all biases nonzero, matrices ~ N(0, 1/fan_in)."""
    g = torch.Generator().manual_seed(seed)

    def randn(shape, std=1.0, mean=0.0):
        return (torch.randn(shape, generator=g, dtype=torch.float64) * std + mean).float()

    for name, p in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if name == "logit_scale":
            v = torch.tensor(2.0 + 0.5 * torch.rand((), generator=g, dtype=torch.float64).item()).float()
        elif leaf in ("q_bias", "v_bias"):
            v = randn(p.shape, 0.3)
        elif leaf.startswith("gamma_"):  # layer scale
            v = (0.2 + 0.4 * torch.rand(p.shape, generator=g, dtype=torch.float64)).float()
        elif leaf in ("cls_token", "pos_embed", "positional_embedding"):
            v = randn(p.shape, 0.5)
        elif name.endswith("token_embedding.weight"):
            v = randn(p.shape, 1.0)
        elif leaf == "text_projection":  # [width, embed], used as x @ P
            v = randn(p.shape, 1.0 / math.sqrt(p.shape[0]))
        elif leaf.endswith("bias"):
            v = randn(p.shape, 0.1)
        elif leaf == "weight" and p.ndim == 1:  # every 1-D weight in these models is a LayerNorm's
            v = randn(p.shape, 0.1, 1.0)
        elif p.ndim >= 2:  # Linear [out, in], in_proj_weight [3W, W], Conv2d [D, 3, P, P]
            fan_in = int(torch.tensor(p.shape[1:]).prod())
            v = randn(p.shape, 1.0 / math.sqrt(fan_in))
        else:
            raise RuntimeError(f"no init rule for parameter {name} {tuple(p.shape)}")
        with torch.no_grad():
            p.copy_(v)


# ----------------------------------------------------------------------------------------------
# Inputs.
# ----------------------------------------------------------------------------------------------
def make_inputs(torch, cfg, batch, seed):
    g = torch.Generator().manual_seed(seed + 7919)
    size = cfg["vision_cfg"]["image_size"]
    # Smooth-ish images in [0, 1]: a random low-frequency field plus noise, then the official normalisation.
    base = torch.rand((batch, 3, 4, 4), generator=g, dtype=torch.float64)
    img = torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear", align_corners=False)
    img = (0.8 * img + 0.2 * torch.rand((batch, 3, size, size), generator=g, dtype=torch.float64)).clamp(0, 1)
    mean = torch.tensor(MEAN, dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float64).view(1, 3, 1, 1)
    pixel_values = ((img - mean) / std).float()

    ctx, vocab = cfg["text_cfg"]["context_length"], cfg["text_cfg"]["vocab_size"]
    sot, eot = vocab - 2, vocab - 1
    ids = torch.zeros((batch, ctx), dtype=torch.int64)
    # Content lengths: short, full (EOT in the last slot, as after truncation), middle, ...
    lengths = [2, ctx - 2, (ctx - 2) // 2 + 1, 1, ctx - 3][:batch]
    for i, n in enumerate(lengths):
        toks = torch.randint(1, sot, (n,), generator=g, dtype=torch.int64)
        row = torch.cat([torch.tensor([sot]), toks, torch.tensor([eot])])
        ids[i, :row.numel()] = row
    return pixel_values, ids


# ----------------------------------------------------------------------------------------------
# Checks that the official path is the one docs/model-spec.md describes.
# ----------------------------------------------------------------------------------------------
def verify_model(torch, eva_clip, model, fx, cfg, log):
    nn = torch.nn
    from eva_clip import eva_vit_model as evm, rope as rope_mod

    klass = {"CLIP": eva_clip.CLIP, "CustomCLIP": eva_clip.CustomCLIP}[fx["klass"]]
    assert type(model) is klass, f"built {type(model).__name__}, expected {fx['klass']}"
    env = os.environ.get("RoPE")
    want_env = "1" if fx["rope"] else "0"
    assert env == want_env, f"create_model left RoPE={env!r}, expected {want_env!r}"
    log(f"  class {type(model).__name__}; create_model set RoPE={env}")

    vis = model.visual
    assert isinstance(vis, evm.EVAVisionTransformer)
    assert isinstance(vis.patch_dropout, nn.Identity), "patch dropout must be off"
    assert vis.fc_norm is None and isinstance(vis.norm, nn.LayerNorm), "expected norm + CLS pooling"
    for name, m in model.named_modules():
        if isinstance(m, nn.Dropout):
            assert m.p == 0.0, f"{name}: dropout p={m.p}"
        if isinstance(m, evm.DropPath):
            raise AssertionError(f"{name}: DropPath present")
        if isinstance(m, nn.MultiheadAttention):
            assert m.dropout == 0.0
        if isinstance(m, nn.LayerNorm):
            want = 1e-6 if name.startswith("visual.") else 1e-5
            assert m.eps == want, f"{name}: eps {m.eps}, expected {want}"
    g = cfg["vision_cfg"]["image_size"] // cfg["vision_cfg"]["patch_size"]
    hd = cfg["vision_cfg"].get("head_width", 64)
    for i, blk in enumerate(vis.blocks):
        a = blk.attn
        assert not a.xattn
        assert blk.postnorm == fx["postnorm"]
        assert (blk.gamma_1 is not None) == fx["layer_scale"]
        assert isinstance(blk.drop_path, nn.Identity)
        if fx["swiglu"]:
            assert a.subln and hasattr(a, "q_proj") and not hasattr(a, "qkv")
            assert isinstance(a.inner_attn_ln, nn.LayerNorm)
            assert isinstance(blk.mlp, evm.SwiGLU) and isinstance(blk.mlp.ffn_ln, nn.LayerNorm)
            assert isinstance(blk.mlp.act, nn.SiLU)
        else:
            assert not a.subln and hasattr(a, "qkv") and isinstance(a.inner_attn_ln, nn.Identity)
            assert isinstance(blk.mlp, evm.Mlp) and isinstance(blk.mlp.ffn_ln, nn.Identity)
            assert type(blk.mlp.act) is nn.GELU and blk.mlp.act.approximate == "none"
        assert a.q_bias is not None and a.v_bias is not None
        if fx["rope"]:
            assert isinstance(a.rope, rope_mod.VisionRotaryEmbeddingFast) and a.rope is vis.rope
        else:
            assert a.rope is None
    txt = model.text if fx["klass"] == "CustomCLIP" else model
    for r in txt.transformer.resblocks:
        assert isinstance(r.attn, nn.MultiheadAttention), "text tower must use torch MHA (xattn off)"
        assert type(r.mlp.gelu) is nn.GELU and r.mlp.gelu.approximate == "none"
    if fx["rope"]:
        fc = vis.rope.freqs_cos
        assert fc.dtype == torch.float32 and tuple(fc.shape) == (g * g, hd), (fc.dtype, fc.shape)
        log(f"  rope table {tuple(fc.shape)} float32, pt_hw_seq_len {cfg['vision_cfg']['pt_hw_seq_len']}, grid {g}")


def rope_crosscheck(torch, np, vis, cfg, log):
    """Rebuilds the RoPE tables independently (numpy, float32, docs/model-spec.md §2c order) and compares."""
    vc = cfg["vision_cfg"]
    g, hd, pt = vc["image_size"] // vc["patch_size"], vc.get("head_width", 64), vc["pt_hw_seq_len"]
    half, K = hd // 2, hd // 4
    expo = (np.arange(K, dtype=np.float32) * np.float32(2)) / np.float32(half)
    freq = np.float32(1) / np.power(np.float32(10000), expo, dtype=np.float32)
    t = (np.arange(g, dtype=np.float32) / np.float32(g)) * np.float32(pt)
    ang = np.zeros((g, g, hd), dtype=np.float32)
    for r in range(g):
        for c in range(g):
            for d in range(hd):
                tt = t[r] if d < half else t[c]
                ang[r, c, d] = np.float32(tt * freq[(d % half) // 2])
    cos_ref, sin_ref = np.cos(ang).reshape(g * g, hd), np.sin(ang).reshape(g * g, hd)
    fc, fs = vis.rope.freqs_cos.double().numpy(), vis.rope.freqs_sin.double().numpy()
    d32 = max(np.abs(fc - cos_ref).max(), np.abs(fs - sin_ref).max())
    # And against a float64 table (what a port that builds the table in double would get).
    t64 = np.arange(g, dtype=np.float64) / g * pt
    f64 = 1.0 / 10000.0 ** (np.arange(K, dtype=np.float64) * 2 / half)
    ang64 = np.zeros((g, g, hd))
    for r in range(g):
        for c in range(g):
            for d in range(hd):
                ang64[r, c, d] = (t64[r] if d < half else t64[c]) * f64[(d % half) // 2]
    d64 = max(np.abs(fc - np.cos(ang64).reshape(g * g, hd)).max(), np.abs(fs - np.sin(ang64).reshape(g * g, hd)).max())
    assert d32 < 1e-6, f"RoPE table does not match the construction of docs/model-spec.md §2c (max diff {d32})"
    log(f"  rope table vs independent fp32 rebuild: max |diff| {d32:.3g}; vs a float64 table: {d64:.3g}")
    return float(d32), float(d64)


# ----------------------------------------------------------------------------------------------
# One fixture.
# ----------------------------------------------------------------------------------------------
def build_fixture(name, fx, out_dir: Path, torch, np, eva_clip, load_file, log, meta_common):
    cfg = fx["config"]
    cfg_dir = CACHE_ROOT / "configs"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    model_name = f"evaclip-fixture-{name}"
    (cfg_dir / f"{model_name}.json").write_text(json.dumps(cfg, indent=2))
    eva_clip.add_model_config(cfg_dir / f"{model_name}.json")

    torch.manual_seed(fx["seed"])  # only the official init consumes this; every value is overwritten below
    with contextlib.redirect_stdout(io.StringIO()):
        model = eva_clip.create_model(model_name, pretrained=None, precision="fp32", device="cpu")
    verify_model(torch, eva_clip, model, fx, cfg, log)
    randomize(model, torch, fx["seed"])

    # The official state_dict, float32: parameters plus persistent buffers (the RoPE tables).
    sd = model.state_dict()
    weights = {k: v.detach().clone().contiguous() for k, v in sd.items()}
    for k, v in weights.items():
        assert v.dtype == torch.float32, (k, v.dtype)
    param_names = [n for n, p in model.named_parameters()]
    buffer_keys = sorted(set(weights) - set(param_names))
    assert all(("freqs_cos" in k or "freqs_sin" in k) for k in buffer_keys), buffer_keys
    assert "attn_mask" not in weights and "text.attn_mask" not in weights

    rope_diffs = None
    if fx["rope"]:
        rope_diffs = rope_crosscheck(torch, np, model.visual, cfg, log)

    model = model.double()
    model.train()
    pixel_values, input_ids = make_inputs(torch, cfg, fx["batch"], fx["seed"])
    x = pixel_values.double()

    # Forward through the official path: CLIP/CustomCLIP.forward (normalised features, exp(logit_scale)),
    # then the official ClipLoss (world size 1, no label smoothing).
    model.zero_grad(set_to_none=True)
    img_n, txt_n, scale = model(x, input_ids)
    loss_fn = eva_clip.ClipLoss()
    loss, _acc = loss_fn(img_n, txt_n, scale)
    loss.backward()
    grads = {}
    for n, p in model.named_parameters():
        assert p.grad is not None, f"no gradient for {n}"
        grads[f"grad.{n}"] = p.grad.detach().clone().double().contiguous()

    with torch.no_grad():
        img_f = model.encode_image(x)
        txt_f = model.encode_text(input_ids)
        lpi = scale * img_n @ txt_n.T
        lpt = scale * txt_n @ img_n.T
        assert torch.allclose(torch.nn.functional.normalize(img_f, dim=-1), img_n, rtol=0, atol=1e-14)
        assert torch.allclose(torch.nn.functional.normalize(txt_f, dim=-1), txt_n, rtol=0, atol=1e-14)
        # Independent loss for the record: symmetric CE with labels 0..N-1.
        lab = torch.arange(fx["batch"])
        loss2 = 0.5 * (torch.nn.functional.cross_entropy(lpi, lab) + torch.nn.functional.cross_entropy(lpt, lab))
        assert abs(loss2.item() - loss.item()) < 1e-13

    # Directional finite-difference check of the whole gradient (float64, central difference).
    gd = torch.Generator().manual_seed(fx["seed"] + 17)
    params = [p for _, p in model.named_parameters()]
    dirs = [torch.randn(p.shape, generator=gd, dtype=torch.float64) for p in params]
    analytic = sum((p.grad * d).sum() for p, d in zip(params, dirs)).item()
    eps = 1e-5

    def loss_at(sign):
        with torch.no_grad():
            for p, d in zip(params, dirs):
                p.add_(sign * eps * d)
            a, b, s = model(x, input_ids)
            l_ = loss_fn(a, b, s)[0].item()
            for p, d in zip(params, dirs):
                p.sub_(sign * eps * d)
            return l_

    numeric = (loss_at(+1) - loss_at(-1)) / (2 * eps)
    fd_rel = abs(numeric - analytic) / max(1e-12, abs(analytic))
    assert fd_rel < fx.get("fd_tol", 1e-6), f"finite-difference check failed: {numeric} vs {analytic}"
    log(f"  loss {loss.item():.6f}, logit_scale {scale.item():.4f}, FD directional-derivative rel err {fd_rel:.2e}")

    # The committed weights must load into a fresh official model (strict: every key, RoPE tables included)
    # and give the same outputs.
    with contextlib.redirect_stdout(io.StringIO()):
        fresh = eva_clip.create_model(model_name, pretrained=None, precision="fp32", device="cpu")
    fresh.load_state_dict(weights, strict=True)
    fresh = fresh.double().train()
    with torch.no_grad():
        assert torch.equal(fresh.encode_image(x), img_f) and torch.equal(fresh.encode_text(input_ids), txt_f)

    # How much the outputs move when the RoPE tables are built in float64 instead of the official float32.
    rope_effect = None
    if fx["rope"]:
        vc = cfg["vision_cfg"]
        gg, hd_, pt_ = vc["image_size"] // vc["patch_size"], vc.get("head_width", 64), vc["pt_hw_seq_len"]
        t64 = torch.arange(gg, dtype=torch.float64) / gg * pt_
        f64 = 1.0 / 10000.0 ** (torch.arange(0, hd_ // 2, 2, dtype=torch.float64) / (hd_ // 2))
        ax = (t64[:, None] * f64[None, :]).repeat_interleave(2, dim=-1)  # [G, hd/2]
        ang = torch.cat([ax[:, None, :].expand(gg, gg, -1), ax[None, :, :].expand(gg, gg, -1)], -1).reshape(gg * gg, hd_)
        with torch.no_grad():
            fresh.visual.rope.freqs_cos.copy_(ang.cos())
            fresh.visual.rope.freqs_sin.copy_(ang.sin())
            ri = fresh.encode_image(x)
        rope_effect = ((ri - img_f).abs().max() / img_f.abs().max()).item()
        log(f"  image features with float64 RoPE tables differ by {rope_effect:.2e} (max abs / max |f|)")

    # Scale of things, so a reader can judge the sensitivity.
    act = {"|image_features|": img_f.abs().mean().item(), "|text_features|": txt_f.abs().mean().item(),
           "max|logits|": lpi.abs().max().item()}
    log("  " + ", ".join(f"{k} {v:.3f}" for k, v in act.items()))

    expected = {
        "image_features": img_f.double().contiguous(),
        "text_features": txt_f.double().contiguous(),
        "logit_scale": scale.detach().double().reshape(()).contiguous(),
        "logits_per_image": lpi.double().contiguous(),
        "logits_per_text": lpt.double().contiguous(),
        "loss": loss.detach().double().reshape(()).contiguous(),
        **grads,
    }

    d = out_dir / name
    d.mkdir(parents=True, exist_ok=True)
    meta = dict(meta_common, fixture=name, model_class=fx["klass"])
    (d / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    files = {"weights": weights, "inputs": {"pixel_values": pixel_values, "input_ids": input_ids},
             "expected": expected}
    for stem, tensors in files.items():
        path = d / f"{stem}.safetensors"
        save_safetensors(tensors, str(path), meta)
        back = load_file(str(path))  # read back with the reference library
        assert set(back) == set(tensors)
        for k, t in tensors.items():
            assert np.array_equal(back[k], t.detach().numpy()) and back[k].dtype == t.detach().numpy().dtype, k

    sizes = {f: (d / f).stat().st_size for f in ("config.json", "weights.safetensors", "inputs.safetensors",
                                                   "expected.safetensors")}
    vc = cfg["vision_cfg"]
    g = vc["image_size"] // vc["patch_size"]
    summary = dict(
        name=name, klass=fx["klass"], batch=fx["batch"], image=vc["image_size"], patch=vc["patch_size"], grid=g,
        width=vc["width"], heads=vc["width"] // vc.get("head_width", 64), hd=vc.get("head_width", 64),
        mlp_hidden=int(vc["width"] * vc.get("mlp_ratio", 4.0)), layers=vc["layers"],
        block=("EVA02 (q/k/v, sub-LN, RoPE, SwiGLU)" if fx["swiglu"] else
               "E (fused qkv, post-norm, GELU)" if fx["postnorm"] else
               "EVA01 (fused qkv, GELU" + (", layer scale)" if fx["layer_scale"] else ")")),
        rope=(f"pt {vc['pt_hw_seq_len']} / grid {g}" if fx["rope"] else "-"),
        text=f"{cfg['text_cfg']['layers']}x{cfg['text_cfg']['width']}x{cfg['text_cfg']['heads']}, ctx "
             f"{cfg['text_cfg']['context_length']}, vocab {cfg['text_cfg']['vocab_size']}",
        embed=cfg["embed_dim"], n_params=sum(p.numel() for p in params), n_param_tensors=len(params),
        buffers=buffer_keys, sizes=sizes, total=sum(sizes.values()), loss=loss.item(), fd_rel=fd_rel,
        rope_diffs=rope_diffs, rope_effect=rope_effect)
    log(f"  wrote {d}: " + ", ".join(f"{k} {v}" for k, v in sizes.items()) + f"; total {summary['total']} B")
    return summary


def write_readme(out_dir: Path, summaries, versions, how, cmd):
    L = []
    L.append("# Reference fixtures from the official EVA-CLIP code\n")
    L.append("Generated by `tools/make_fixtures.py`; do not edit by hand. Each directory holds one tiny EVA-CLIP "
             "model built by the official `eva_clip` package (baaivision/EVA, `EVA-CLIP/rei/eva_clip`) with "
             "seeded random weights, run in float64 on the CPU in training mode with every dropout, drop-path "
             "and patch-dropout off, `xattn=false` and `fusedLN=false` (plain attention, torch LayerNorm).\n")
    L.append("## Regenerate\n")
    L.append("```sh\n" + cmd + "\n```\n")
    L.append("`--eva-git` takes any git directory holding the pinned commit (e.g. a clone of baaivision/EVA); "
             "`--eva-src DIR` takes a directory containing `eva_clip/`. With neither, the script uses "
             "`~/.cache/evaclip/EVA-<commit>/` if present, else downloads the GitHub tarball of the pinned "
             "commit and keeps only `EVA-CLIP/rei/eva_clip` there. Tests never need Python or the network.\n")
    L.append("Python requirements: Debian `python3-torch` (1.13), `python3-torchvision`, `python3-numpy`, and "
             "`/usr/bin/python3 -m pip install --break-system-packages timm==0.9.16 einops==0.8.0 safetensors "
             "ftfy regex`.\n")
    L.append("## Versions used for the committed files\n")
    for k, v in versions.items():
        L.append(f"- {k}: {v}")
    L.append(f"- official source obtained by: {how}\n")
    L.append("## Files\n")
    L.append("- `config.json`: the model config in the official `model_configs` schema (`embed_dim`, `vision_cfg`, "
             "`text_cfg` with the official field names). `\"custom_text\": true` selects the official `CustomCLIP` "
             "class (text tower under `text.`); without it the official `CLIP` class is built (text keys at the "
             "top level). `eva_model_name` only needs to be non-empty.")
    L.append("- `weights.safetensors`: the official `state_dict()` (parameters and persistent buffers), float32. "
             "RoPE fixtures also hold the persistent `visual.rope.freqs_cos/sin` and "
             "`visual.blocks.<i>.attn.rope.freqs_cos/sin` tables [grid², head_dim] (one shared module, stored once "
             "per key), which a loader must accept and may ignore. The text `attn_mask` buffer is non-persistent and "
             "absent. `logit_scale` is the raw parameter (shape []).")
    L.append("- `inputs.safetensors`: `pixel_values` float32 [N,3,H,W], already normalised with the OpenAI "
             "mean/std; `input_ids` int64 [N,context]: SOT = vocab_size-2, content ids in [1, vocab_size-3], "
             "EOT = vocab_size-1 (the largest id, so argmax pooling finds it), zero padding; one row per fixture has "
             "EOT in the last slot.")
    L.append("- `expected.safetensors`, float64, computed from exactly the float32 weights upcast (the RoPE tables "
             "too: the official code builds them in float32 and `.double()` upcasts them): `image_features` "
             "[N,E] and `text_features` [N,E] (`encode_image`/`encode_text`, after the head / text projection, "
             "before L2 normalisation); `logit_scale` = exp(parameter), shape []; `logits_per_image` and "
             "`logits_per_text` [N,N] = exp(logit_scale)·normalised features; `loss` shape [] from the official "
             "`ClipLoss` (symmetric cross-entropy, labels 0..N-1); `grad.<key>` (d loss / d parameter) for every "
             "parameter, named by its key in `weights.safetensors`.")
    L.append("- Every file's safetensors metadata records the fixture name, model class and EVA commit.\n")
    L.append("Weights: LayerNorm weights 1 + N(0, 0.1²), every bias N(0, 0.1²), q/v biases N(0, 0.3²), "
             "matrices N(0, 1/fan_in), cls/pos embeddings N(0, 0.5²), token embedding N(0, 1), layer-scale gammas "
             "U(0.2, 0.6), logit_scale U(2.0, 2.5). Each fixture was checked with a central finite difference of "
             "the loss along a random direction in all parameters (relative error below).\n")
    L.append("## Fixtures\n")
    L.append("| name | class | N | image/patch → grid | vision width×layers, heads×hd, MLP hidden | block | RoPE | "
             "text layers×width×heads | embed | params | bytes | loss | FD rel err |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in summaries:
        L.append(f"| {s['name']} | {s['klass']} | {s['batch']} | {s['image']}/{s['patch']} → {s['grid']} | "
                 f"{s['width']}×{s['layers']}, {s['heads']}×{s['hd']}, {s['mlp_hidden']} | {s['block']} | "
                 f"{s['rope']} | {s['text']} | {s['embed']} | {s['n_params']} in {s['n_param_tensors']} tensors | "
                 f"{s['total']} | {s['loss']:.6f} | {s['fd_rel']:.1e} |")
    rope = [s for s in summaries if s["rope_diffs"]]
    if rope:
        L.append("\nRoPE tables: the stored float32 tables were compared with an independent float32 rebuild in "
                 "the order of operations of docs/model-spec.md §2c (numpy) and with a table built in float64:\n")
        for s in rope:
            L.append(f"- {s['name']}: max |diff| vs float32 rebuild {s['rope_diffs'][0]:.3g}, vs float64 table "
                     f"{s['rope_diffs'][1]:.3g}; image features computed with float64 tables differ from "
                     f"`expected` by {s['rope_effect']:.2g} (max abs / max |feature|)")
    L.append("")
    (out_dir / "README.md").write_text("\n".join(L) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eva-git", help="git dir of baaivision/EVA holding the pinned commit")
    ap.add_argument("--eva-src", help="directory containing the eva_clip/ package (used in place)")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="output directory (default tests/data/models)")
    ap.add_argument("--only", nargs="*", help="fixture names to build (default: all)")
    args = ap.parse_args()

    root, how = obtain_eva_clip(args)
    sys.path.insert(0, str(root))
    os.environ.pop("RoPE", None)
    import numpy as np
    import torch
    torch.set_num_threads(1)  # reproducible reduction order
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints "please install xformers/apex"
        import eva_clip
    import einops
    import timm
    import safetensors
    from safetensors.numpy import load_file
    assert Path(eva_clip.__file__).resolve().is_relative_to(root.resolve()), eva_clip.__file__

    digest = _tree_digest(Path(eva_clip.__file__).parent)
    versions = {
        "EVA commit": f"{EVA_REPO}@{EVA_COMMIT}",
        "eva_clip tree sha256": digest,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "einops": einops.__version__,
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
    }
    try:
        import torchvision
        versions["torchvision"] = torchvision.__version__
    except ImportError:
        pass
    for k, v in versions.items():
        print(f"{k}: {v}")
    print(f"official source: {how}")
    meta_common = {"generator": "tools/make_fixtures.py", "eva_commit": EVA_COMMIT}

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = args.only or list(FIXTURES)
    summaries = []
    for name in names:
        print(f"[{name}]")
        summaries.append(build_fixture(name, {**FIXTURES, **FULL_SIZE}[name], out_dir, torch, np, eva_clip, load_file, print,
                                       meta_common))
    if not args.only:
        cmd = ("# from the repository root; the official source from a local git dir of baaivision/EVA:\n"
               "/usr/bin/python3 tools/make_fixtures.py --eva-git <path to a baaivision/EVA git dir>\n"
               "# or, with network access (downloads the pinned commit's tarball into ~/.cache/evaclip/):\n"
               "/usr/bin/python3 tools/make_fixtures.py")
        write_readme(out_dir, summaries, versions, how.replace(str(Path.home()), "~"), cmd)
    total = sum(s["total"] for s in summaries)
    print(f"done: {len(summaries)} fixtures, {total} bytes")


if __name__ == "__main__":
    main()
