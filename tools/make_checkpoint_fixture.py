#!/usr/bin/env python3
"""Generate tests/data/checkpoints/eva02_tiny_fp16.safetensors with tools/convert_checkpoint.py and
check the converter (run from the repository root with /usr/bin/python3; needs torch and safetensors).

The source .pt is built from tests/data/models/eva02_tiny/weights.safetensors the way released
checkpoints are wrapped: {"epoch": 3, "state_dict": {"module.<key>": fp16 tensor}}. The committed
output is what the C++ test (tests/unit/nn/test_checkpoint.cpp) loads with load_weights. The other
--dtype modes, tensors sharing storage, and the refusal of non-tensor pickles are checked here only.
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "tests" / "data" / "models" / "eva02_tiny" / "weights.safetensors"
OUT = ROOT / "tests" / "data" / "checkpoints" / "eva02_tiny_fp16.safetensors"
TOOL = ROOT / "tools" / "convert_checkpoint.py"


def run(*args):
    r = subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True)
    print(r.stdout.strip() or r.stderr.strip())
    return r


def main():
    weights = load_file(str(SRC))
    with tempfile.TemporaryDirectory() as tmp:
        pt = Path(tmp) / "eva02_tiny.pt"
        torch.save({"epoch": 3, "state_dict": {"module." + k: v.half() for k, v in weights.items()}}, pt)
        assert run(pt, "-o", OUT).returncode == 0
        got = load_file(str(OUT))
        assert set(got) == set(weights), set(got) ^ set(weights)
        assert all(got[k].dtype == torch.float16 and torch.equal(got[k], weights[k].half()) for k in got)
        for mode, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            o = Path(tmp) / f"{mode}.safetensors"
            assert run(pt, "-o", o, "--dtype", mode).returncode == 0
            g = load_file(str(o))
            assert all(g[k].dtype == dt and torch.equal(g[k], weights[k].half().to(dt)) for k in g), mode

        # A bare dict whose tensors share storage (views of one buffer), fp32 kept as is.
        base = torch.arange(12, dtype=torch.float32)
        bare = Path(tmp) / "bare.pt"
        torch.save({"visual.a": base[:6], "visual.b": base[6:], "logit_scale": base[0]}, bare)
        assert run(bare).returncode == 0
        g = load_file(str(bare.with_suffix(".safetensors")))
        assert torch.equal(g["visual.b"], base[6:]) and g["logit_scale"].shape == ()

        # Arbitrary pickled objects need --trust-pickle; nothing is written when the load fails.
        bad = Path(tmp) / "bad.pt"
        torch.save({"args": Path("x"), "model": {"visual.a": base}}, bad)
        r = run(bad)
        assert r.returncode != 0 and "--trust-pickle" in r.stderr
        assert not bad.with_suffix(".safetensors").exists()
        assert run(bad, "--trust-pickle").returncode == 0
    print(f"ok: {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
