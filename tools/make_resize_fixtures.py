#!/usr/bin/env python3
"""Generate the other-resolution fixtures in tests/data/resize/ from the official EVA-CLIP code.

  pos_embed.safetensors   for each (G0, G1) pair: `pos.G0_G1` float64 [1, 1+G0^2, D] (random) and
                          `expected.G0_G1` [1, 1+G1^2, D] from the official utils.resize_evaclip_pos_embed
                          (checked equal to torch interpolate bicubic, align_corners=False).
  eva02_tiny_at<S>.safetensors   the official model built from tests/data/models/eva02_tiny/config.json at
                          image_size S, loaded through the official factory.load_checkpoint (which resizes
                          pos_embed and keeps the model's own RoPE tables for the new grid) from a .pt of
                          tests/data/models/eva02_tiny/weights.safetensors; `pixel_values` float32 [N,3,S,S],
                          `image_features` float64 (encode_image in float64), `pos_embed` (the resized one).

The official package is obtained as in tools/make_fixtures.py (same options, same cache).
Run from the repository root:  /usr/bin/python3 tools/make_resize_fixtures.py [--eva-git DIR | --eva-src DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402  (shared: obtain_eva_clip, save_safetensors, make_inputs)

PAIRS = [(4, 7), (7, 4), (16, 14), (3, 3), (2, 5)]
DIM = 5
SIZES = [48, 24]  # eva02_tiny is 32/8 -> grid 4; these give grids 6 (up) and 3 (down)
FIXTURE = "eva02_tiny"


def pos_embed_fixtures(torch, eva_clip, out_dir, meta):
    from eva_clip import utils
    g = torch.Generator().manual_seed(4242)
    tensors = {}
    for g0, g1 in PAIRS:
        pos = torch.randn((1, 1 + g0 * g0, DIM), generator=g, dtype=torch.float64)
        # The official function reads only these attributes of the model.
        vis = types.SimpleNamespace(patch_embed=types.SimpleNamespace(num_patches=g1 * g1, patch_size=(2, 2)),
                                    pos_embed=torch.zeros(1, 1 + g1 * g1, DIM))
        sd = {"visual.pos_embed": pos.clone(), "visual.patch_embed.proj.weight": torch.zeros(1, 1, 2, 2)}
        with contextlib.redirect_stdout(io.StringIO()):
            utils.resize_evaclip_pos_embed(sd, types.SimpleNamespace(visual=vis))
        got = sd["visual.pos_embed"]
        grid = pos[:, 1:].reshape(1, g0, g0, DIM).permute(0, 3, 1, 2)
        direct = torch.nn.functional.interpolate(grid, size=(g1, g1), mode="bicubic", align_corners=False)
        direct = torch.cat([pos[:, :1], direct.permute(0, 2, 3, 1).reshape(1, g1 * g1, DIM)], 1)
        assert torch.equal(got, direct), (g0, g1)
        tensors[f"pos.{g0}_{g1}"] = pos
        tensors[f"expected.{g0}_{g1}"] = got.contiguous()
    mf.save_safetensors(tensors, str(out_dir / "pos_embed.safetensors"), meta)
    print(f"pos_embed.safetensors: pairs {PAIRS}, D {DIM}")


def model_fixture(torch, eva_clip, size, out_dir, meta):
    from eva_clip import factory
    from safetensors.torch import load_file
    src = mf.REPO_ROOT / "tests" / "data" / "models" / FIXTURE
    cfg = json.loads((src / "config.json").read_text())
    cfg["vision_cfg"]["image_size"] = size
    cfg_dir = mf.CACHE_ROOT / "configs"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    name = f"evaclip-resize-{FIXTURE}-{size}"
    (cfg_dir / f"{name}.json").write_text(json.dumps(cfg, indent=2))
    eva_clip.add_model_config(cfg_dir / f"{name}.json")
    with contextlib.redirect_stdout(io.StringIO()):
        model = eva_clip.create_model(name, pretrained=None, precision="fp32", device="cpu")
    weights = load_file(str(src / "weights.safetensors"))
    with tempfile.TemporaryDirectory() as tmp:
        pt = Path(tmp) / "ckpt.pt"
        torch.save({"state_dict": {"module." + k: v for k, v in weights.items()}}, pt)
        with contextlib.redirect_stdout(io.StringIO()):
            inc = factory.load_checkpoint(model, str(pt), strict=False)
    assert not inc.unexpected_keys, inc.unexpected_keys
    assert all("freqs_" in k for k in inc.missing_keys), inc.missing_keys
    grid = size // cfg["vision_cfg"]["patch_size"]
    assert model.visual.pos_embed.shape[1] == 1 + grid * grid
    assert model.visual.rope.freqs_cos.shape[0] == grid * grid

    model = model.double().eval()
    pixel_values, _ = mf.make_inputs(torch, cfg, 2, 500 + size)
    with torch.no_grad():
        feats = model.encode_image(pixel_values.double())
    out = {"pixel_values": pixel_values, "image_features": feats.contiguous(),
           "pos_embed": model.visual.pos_embed.detach().float().contiguous()}
    mf.save_safetensors(out, str(out_dir / f"{FIXTURE}_at{size}.safetensors"), {**meta, "image_size": size})
    print(f"{FIXTURE}_at{size}.safetensors: grid {grid}, features {tuple(feats.shape)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eva-git", help="git dir of baaivision/EVA holding the pinned commit")
    ap.add_argument("--eva-src", help="directory containing the eva_clip/ package (used in place)")
    ap.add_argument("--out", default=str(mf.REPO_ROOT / "tests" / "data" / "resize"))
    args = ap.parse_args()
    root, _how = mf.obtain_eva_clip(args)
    sys.path.insert(0, str(root))
    os.environ.pop("RoPE", None)
    import torch
    torch.set_num_threads(1)
    with contextlib.redirect_stdout(io.StringIO()):
        import eva_clip
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {"generator": "tools/make_resize_fixtures.py", "eva_commit": mf.EVA_COMMIT}
    pos_embed_fixtures(torch, eva_clip, out_dir, meta)
    for s in SIZES:
        model_fixture(torch, eva_clip, s, out_dir, meta)


if __name__ == "__main__":
    main()
