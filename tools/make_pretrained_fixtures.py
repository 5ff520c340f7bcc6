#!/usr/bin/python3
"""Writes tests/data/pretrained/: the fixtures for initialising EVA-CLIP from pretrained towers
(docs/model-spec.md §5 "Initialisation", include/evaclip/nn/pretrained.hpp).

A tiny EVA-02 MIM vision tower is built by the *official* MIM class (baaivision/EVA
EVA-02/asuka/modeling_pretrain.py, VisionTransformerForMaskedImageModeling, with the B/L flags: separate
q/k/v, sub-LN, naive SwiGLU, RoPE) at patch 14 and image 112 (grid 8), with seeded random weights. It is
loaded into a tiny EVA02-CLIP model at patch 16 (grid 7): the ratio of EVA02-CLIP-B-16's
EVA02_B_psz14 -> psz16 initialisation (grid 16 -> 14). A tiny CLIP text tower comes in the OpenAI and
the OpenCLIP key layouts. Then the official EVA-CLIP path builds the model from those files
(eva_clip.create_model(pretrained_image=..., pretrained_text=..., skip_list=...) -> factory.
load_pretrained_checkpoint, with the README's skip list), and its image and text features are computed
in float64.

Files written (float32 unless noted):
  mim_official.safetensors   the MIM state_dict in the official key layout, as tools/convert_checkpoint.py
                             writes it from the released {"model": state_dict} .pt files (checked here)
  mim_timm.safetensors       the same weights in timm's layout (timm's own checkpoint_filter_fn, checked by a
                             strict load into timm's Eva with eva02_base_patch14_224's flags)
  text_openai.safetensors    text tower at the top level plus OpenAI-style extras (visual.*, logit_scale and
                             the input_resolution / context_length / vocab_size scalars of OpenAI's state dict)
  text_openclip.safetensors  the same text tower as a CustomTextCLIP training checkpoint: module.text.*,
                             module.visual.trunk.*, module.logit_scale
  resize_ref.safetensors     float64 torch F.interpolate(bicubic, align_corners=False) of the patch kernel
                             (14 -> 16) and of the pos_embed grid (8 -> 7, CLS kept)
  expected.safetensors       inputs (pixel_values f16 [1,3,112,112], input_ids [2,12]), the official model's
                             fresh head / text_projection / logit_scale, its float64 features; metadata: the
                             official loader's missing / unexpected keys
  config.json                the EVA-CLIP model config (official schema)

Requirements: as tools/make_fixtures.py (Debian python3-torch 1.13, pip timm==0.9.16 einops safetensors).
The official source: `--eva-git <baaivision/EVA git dir>` (or $EVACLIP_EVA_GIT), else the cache that
tools/make_fixtures.py fills. xformers and apex are replaced by stubs (plain attention, torch LayerNorm:
the same math; xattn is off).
Usage (repository root): /usr/bin/python3 tools/make_pretrained_fixtures.py --eva-git <git dir>
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convert_checkpoint  # noqa: E402  (tools/convert_checkpoint.py: the documented .pt -> safetensors route)
import make_fixtures as mf  # noqa: E402  (official-source cache, deterministic writer, seeded weights, inputs)

OUT = mf.REPO_ROOT / "tests" / "data" / "pretrained"
ASUKA = "EVA-02/asuka"
ASUKA_FILES = ("modeling_pretrain.py", "modeling_finetune.py", "rope.py")
SEED = 501
MIM_PATCH, CLIP_PATCH, IMAGE = 14, 16, 112
# The README's --skip-list (exact keys, as the official load_state_dict matches them).
README_SKIP = ["head.weight", "head.bias", "lm_head.weight", "lm_head.bias", "mask_token", "text_projection",
               "logit_scale"]

CONFIG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": IMAGE, "layers": 2, "width": 16, "head_width": 8, "patch_size": CLIP_PATCH,
                   "mlp_ratio": 2.6667, "eva_model_name": "eva-clip-tiny-02-pretrained", "drop_path_rate": 0.0,
                   "xattn": False, "fusedLN": False, "rope": True, "pt_hw_seq_len": IMAGE // MIM_PATCH,
                   "intp_freq": True, "naiveswiglu": True, "subln": True},
    "text_cfg": {"context_length": 12, "vocab_size": 100, "width": 16, "heads": 2, "layers": 2, "xattn": False,
                 "fusedLN": False},
    "custom_text": True,  # CustomCLIP, as the training scripts' --force-custom-clip builds
}


def obtain_asuka(args) -> Path:
    """The official MIM sources: `git archive` of the pinned commit into the cache, or the cache itself."""
    d = mf.CACHE_ROOT / f"EVA-{mf.EVA_COMMIT[:12]}" / ASUKA
    git = args.eva_git or os.environ.get("EVACLIP_EVA_GIT")
    if git:
        paths = [f"{ASUKA}/{f}" for f in ASUKA_FILES]
        tar = subprocess.run(["git", "--git-dir", str(mf._git_dir(Path(git))), "archive", mf.EVA_COMMIT, *paths],
                             check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
            tf.extractall(d.parents[1])
    if not all((d / f).is_file() for f in ASUKA_FILES):
        sys.exit(f"no {ASUKA} sources in {d}: pass --eva-git <git dir of {mf.EVA_REPO} holding {mf.EVA_COMMIT}>")
    return d


def build_mim(torch, asuka: Path):
    """The official MIM model (B/L flags) at tiny size, with stubs for the CUDA-only imports."""
    nn = torch.nn
    xformers, xops = types.ModuleType("xformers"), types.ModuleType("xformers.ops")
    xformers.ops = xops  # only xops.SwiGLU / memory_efficient_attention use it; neither is built (xattn off)
    apex, apex_norm = types.ModuleType("apex"), types.ModuleType("apex.normalization")
    apex.normalization, apex_norm.FusedLayerNorm = apex_norm, nn.LayerNorm
    sys.modules.update({"xformers": xformers, "xformers.ops": xops, "apex": apex, "apex.normalization": apex_norm})
    sys.path.insert(0, str(asuka))
    with contextlib.redirect_stdout(io.StringIO()):  # it prints every init rescale
        import modeling_pretrain
        mim = modeling_pretrain.VisionTransformerForMaskedImageModeling(
            img_size=IMAGE, patch_size=MIM_PATCH, embed_dim=16, depth=2, num_heads=2, mlp_ratio=4 * 2 / 3,
            qkv_bias=True, norm_layer=functools.partial(nn.LayerNorm, eps=1e-6), predict_feature_dim=24,
            xattn=False, naiveswiglu=True, subln=True, xavier_normal_init=True, rope=True)
    mf.randomize(mim, torch, SEED)
    sd = {k: v.detach().clone().contiguous() for k, v in mim.state_dict().items()}
    # The layout the loader has to handle: no sub-LN before attn.proj (the MIM blocks have none), MIM-only
    # mask_token / lm_head, persistent RoPE tables.
    assert not any("inner_attn_ln" in k for k in sd), "MIM model unexpectedly has inner_attn_ln"
    assert {"mask_token", "lm_head.weight", "lm_head.bias", "norm.weight", "rope.freqs_cos"} <= set(sd)
    return sd


def timm_layout(torch, sd):
    """timm's conversion of the MIM weights, checked by a strict load into timm's Eva (eva02_base_patch14_224's
    flags, the architecture of timm's eva02_*_patch14_224.mim_in22k files)."""
    from timm.models.eva import Eva, checkpoint_filter_fn
    eva = Eva(img_size=IMAGE, patch_size=MIM_PATCH, embed_dim=16, depth=2, num_heads=2, qkv_fused=False,
              mlp_ratio=4 * 2 / 3, swiglu_mlp=True, scale_mlp=True, use_rot_pos_emb=True,
              ref_feat_shape=(IMAGE // MIM_PATCH,) * 2, num_classes=0)
    out = checkpoint_filter_fn(sd, eva)
    eva.load_state_dict(out, strict=True)
    assert "fc_norm.weight" in out and "blocks.0.mlp.fc1_g.weight" in out and "blocks.0.attn.q_proj.bias" in out
    return {k: v.contiguous() for k, v in out.items()}


def reference_resize(torch, sd):
    """torch's bicubic (align_corners=False) in float64: the kernel 14 -> 16 and the pos grid 8 -> 7."""
    F = torch.nn.functional
    k = F.interpolate(sd["patch_embed.proj.weight"].double(), size=(CLIP_PATCH, CLIP_PATCH), mode="bicubic",
                      align_corners=False)
    pos = sd["pos_embed"].double()
    g0, g1, d = IMAGE // MIM_PATCH, IMAGE // CLIP_PATCH, pos.shape[-1]
    grid = pos[:, 1:].reshape(1, g0, g0, d).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(g1, g1), mode="bicubic", align_corners=False)
    return {"patch_embed.proj.weight": k.contiguous(),
            "pos_embed": torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, g1 * g1, d)], 1).contiguous()}


def text_layouts(torch, eva_clip):
    """One seeded text tower (the official CustomCLIP's) in three layouts: the open_clip CLIP-class state dict
    the official loader reads, OpenAI's, and a CustomTextCLIP training checkpoint's."""
    donor = eva_clip.CustomCLIP(**{k: v for k, v in CONFIG.items() if k != "custom_text"})
    mf.randomize(donor, torch, SEED + 1)
    text = {k[len("text."):]: v.detach().clone().contiguous() for k, v in donor.state_dict().items()
            if k.startswith("text.")}
    logit_scale = donor.logit_scale.detach().clone()
    g = torch.Generator().manual_seed(SEED + 2)
    visual = {"visual.class_embedding": torch.randn(16, generator=g), "visual.proj": torch.randn(16, 16, generator=g),
              "visual.ln_post.weight": torch.randn(16, generator=g)}  # stand-ins for the OpenAI vision tower
    top = {**text, **visual, "logit_scale": logit_scale}
    scalars = {"input_resolution": IMAGE, "context_length": 12, "vocab_size": 100}  # in OpenAI's state dict
    openai = {**top, **{k: torch.tensor(v) for k, v in scalars.items()}}
    openclip = {"module.text." + k: v for k, v in text.items()}
    openclip.update({"module.logit_scale": logit_scale,
                     "module.visual.trunk.cls_token": torch.randn(1, 1, 16, generator=g)})
    return top, openai, openclip


def official_model(torch, eva_clip, mim_sd, text_top, tmp: Path):
    """The official initialisation path: create_model(pretrained_image, pretrained_text, skip_list)."""
    from eva_clip import factory
    mim_pt, text_pt = tmp / "mim.pt", tmp / "openclip.pt"
    torch.save({"model": mim_sd}, mim_pt)  # the released MIM files wrap the state dict in "model"
    torch.save(text_top, text_pt)          # an open_clip CLIP-class state dict (text keys at the top level)
    # "EVA02-B-16" has "eva" but no "clip": the plain path for MIM files; "open_clip" selects the CLIP-file path.
    assert factory.get_pretrained_tag("EVA02-B-16") == "other"
    assert factory.get_pretrained_tag("open_clip") == "open_clip"
    captured = []
    original = factory.load_pretrained_checkpoint

    def spy(*a, **kw):
        captured.append(original(*a, **kw))
        return captured[-1]

    name = "evaclip-fixture-pretrained"
    cfg_dir = mf.CACHE_ROOT / "configs"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    (cfg_dir / f"{name}.json").write_text(json.dumps(CONFIG, indent=2))
    eva_clip.add_model_config(cfg_dir / f"{name}.json")
    factory.load_pretrained_checkpoint = spy
    try:
        torch.manual_seed(SEED)  # the fresh head and text_projection come from the official init
        with contextlib.redirect_stdout(io.StringIO()):
            model = eva_clip.create_model(name, precision="fp32", device="cpu", pretrained_image=str(mim_pt),
                                          pretrained_visual_model="EVA02-B-16", pretrained_text=str(text_pt),
                                          pretrained_text_model="open_clip", skip_list=README_SKIP)
    finally:
        factory.load_pretrained_checkpoint = original
    assert len(captured) == 1, "create_model did not go through load_pretrained_checkpoint"
    (vis, txt) = captured[0]
    not_rope = lambda keys: sorted(k for k in keys if "freqs_cos" not in k and "freqs_sin" not in k)  # noqa: E731
    keys = {"visual_missing": not_rope(vis.missing_keys), "visual_unexpected": sorted(vis.unexpected_keys),
            "text_missing": sorted(txt.missing_keys), "text_unexpected": sorted(txt.unexpected_keys)}
    return model, keys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eva-git", help="git dir of baaivision/EVA holding the pinned commit")
    ap.add_argument("--eva-src", help="directory containing the eva_clip/ package (used in place)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()

    root, how = mf.obtain_eva_clip(args)  # first: with --eva-git it re-creates the cache directory
    asuka = obtain_asuka(args)
    sys.path.insert(0, str(root))
    os.environ.pop("RoPE", None)
    import numpy as np
    import torch
    import timm
    from safetensors.numpy import load_file
    from timm.layers import resample_patch_embed
    torch.set_num_threads(1)
    with contextlib.redirect_stdout(io.StringIO()):
        import eva_clip
    mf._ST_DTYPES.setdefault("float16", "F16")  # pixel_values are stored as fp16 to keep the file small
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"generator": "tools/make_pretrained_fixtures.py", "eva_commit": mf.EVA_COMMIT,
            "timm": timm.__version__, "torch": torch.__version__}

    mim_sd = build_mim(torch, asuka)
    timm_sd = timm_layout(torch, mim_sd)
    ref = reference_resize(torch, mim_sd)

    text_top, openai, openclip = text_layouts(torch, eva_clip)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model, keys = official_model(torch, eva_clip, mim_sd, text_top, tmp)
        # The documented route for released .pt files gives exactly the committed MIM file's tensors.
        torch.save({"model": mim_sd}, tmp / "released.pt")
        print(convert_checkpoint.convert(tmp / "released.pt", tmp / "converted.safetensors", "keep", False))
        converted = load_file(str(tmp / "converted.safetensors"))
        assert set(converted) == set(mim_sd)
        assert all(np.array_equal(converted[k], mim_sd[k].numpy()) for k in converted)

    sd = model.state_dict()
    notes = []
    d_kernel = (sd["visual.patch_embed.proj.weight"].double() - ref["patch_embed.proj.weight"]).abs().max().item()
    d_pos = (sd["visual.pos_embed"].double() - ref["pos_embed"]).abs().max().item()
    notes.append(f"The official loader resizes in float32: its kernel is within {d_kernel:.1e} and its pos_embed "
                 f"within {d_pos:.1e} of the float64 reference.")
    flexi = resample_patch_embed(mim_sd["patch_embed.proj.weight"].double(), [CLIP_PATCH, CLIP_PATCH])
    bicubic = ref["patch_embed.proj.weight"]
    rel = ((flexi - bicubic).abs().max() / bicubic.abs().max()).item()
    notes.append(f"timm's resample_patch_embed (FlexiViT pseudo-inverse, antialias) is a different operation: it "
                 f"differs from the official bicubic kernel by {rel:.2f} of the kernel's largest magnitude.")
    for k in ("visual_missing", "visual_unexpected", "text_missing", "text_unexpected"):
        notes.append(f"Official load_pretrained_checkpoint {k.replace('_', ' ')} keys (RoPE tables left out): "
                     f"{', '.join(keys[k]) or 'none'}.")
    for n in notes:
        print(n)
    for blk in model.visual.blocks:  # the sub-LN the MIM file lacks keeps the LayerNorm init
        ln = blk.attn.inner_attn_ln
        assert torch.equal(ln.weight, torch.ones(16)) and torch.equal(ln.bias, torch.zeros(16))

    pixel_values, input_ids = mf.make_inputs(torch, CONFIG, 2, SEED)
    pixel_values = pixel_values[:1].half()
    model = model.double().eval()
    with torch.no_grad():
        image_features = model.encode_image(pixel_values.double())
        text_features = model.encode_text(input_ids)
    print(f"official features: |image| {image_features.abs().mean():.3f}, |text| {text_features.abs().mean():.3f}")

    files = {
        "mim_official": mim_sd,
        "mim_timm": timm_sd,
        "text_openai": openai,
        "text_openclip": openclip,
        "resize_ref": ref,
        "expected": {"pixel_values": pixel_values, "input_ids": input_ids,
                     "image_features": image_features, "text_features": text_features,
                     **{f"official.{k}": sd[k].contiguous() for k in ("visual.head.weight", "visual.head.bias",
                                                                       "text.text_projection", "logit_scale")}},
    }
    for stem, tensors in files.items():
        path = out / f"{stem}.safetensors"
        m = dict(meta, **({k: json.dumps(v) for k, v in keys.items()} if stem == "expected" else {}))
        mf.save_safetensors(tensors, str(path), m)
        back = load_file(str(path))
        assert set(back) == set(tensors) and all(np.array_equal(back[k], tensors[k].numpy()) for k in back), stem
        print(f"wrote {path}: {len(tensors)} tensors, {path.stat().st_size} bytes")
    (out / "config.json").write_text(json.dumps(CONFIG, indent=2) + "\n")
    write_readme(out, notes, meta)
    print(f"official source: {how}; MIM sources: {asuka}")


def write_readme(out: Path, notes, meta):
    doc = __doc__.split("Requirements:")[0].strip()
    lines = ["# Fixtures for initialising EVA-CLIP from pretrained towers", "",
             "Generated by `tools/make_pretrained_fixtures.py`; do not edit by hand. Read by "
             "`tests/unit/nn/test_pretrained.cpp`.", "", "```", doc, "```", "", "## Measured when generated", ""]
    lines += [f"- {n}" for n in notes]
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in meta.items() if k != "generator"), ""]
    (out / "README.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
