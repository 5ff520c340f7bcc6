#!/usr/bin/python3
"""Writes tests/data/models/eva02_tiny/weights_openclip.safetensors: the eva02_tiny fixture's weights in the
open_clip layout (vision trunk under `visual.trunk.` with timm's names), converted by timm's own
`checkpoint_filter_fn` and checked by loading them strictly into timm's Eva at the same config. The C++
parity test loads this file and must reproduce the fixture's expected outputs.

Requirements: /usr/bin/python3 with Debian python3-torch and `pip install timm==0.9.16 safetensors`.
Usage (repository root): /usr/bin/python3 tools/make_openclip_fixture.py
"""
import json
import os

import timm
import torch
from safetensors.torch import load_file, save_file
from timm.models.eva import Eva, checkpoint_filter_fn

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "models", "eva02_tiny")


def main():
    cfg = json.load(open(os.path.join(FIXTURE, "config.json")))
    v = cfg["vision_cfg"]
    weights = load_file(os.path.join(FIXTURE, "weights.safetensors"))
    trunk = Eva(img_size=v["image_size"], patch_size=v["patch_size"], embed_dim=v["width"], depth=v["layers"],
                num_heads=v["width"] // v["head_width"], qkv_fused=False, mlp_ratio=v["mlp_ratio"],
                swiglu_mlp=True, scale_mlp=True, scale_attn_inner=True, use_rot_pos_emb=True,
                ref_feat_shape=(v["pt_hw_seq_len"],) * 2, global_pool="token", num_classes=cfg["embed_dim"])
    visual = {k[len("visual."):]: t for k, t in weights.items() if k.startswith("visual.")}
    converted = checkpoint_filter_fn(visual, trunk)
    trunk.load_state_dict(converted, strict=True)  # every timm key present, none left over
    out = {"visual.trunk." + k: t.contiguous() for k, t in converted.items()}
    out.update({k: t for k, t in weights.items() if not k.startswith("visual.")})
    path = os.path.join(FIXTURE, "weights_openclip.safetensors")
    save_file(dict(sorted(out.items())), path, metadata={"layout": "open_clip", "timm": timm.__version__,
                                                          "torch": torch.__version__})
    print(f"wrote {path}: {len(out)} tensors (timm {timm.__version__})")


if __name__ == "__main__":
    main()
