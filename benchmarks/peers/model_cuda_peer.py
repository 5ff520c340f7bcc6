#!/usr/bin/env python3
"""model_cuda_peer.py — the PyTorch peer of bench_model_cuda: timm's EVA02-CLIP image towers on the GPU,
bf16 autocast, SDPA attention, eager (P1) and torch.compile (P2), timed with CUDA events on the same shapes
in the same run as evaclip's benchmark; prints img/s, MFU and the ratios evaclip / peer (> 1: evaclip faster).

    python3 benchmarks/peers/model_cuda_peer.py --bin build/bin [--batch 1024] [--no-compile] [--json OUT.json]

timm models (random weights, the image tower with its CLIP projection head): eva02_base_patch16_clip_224
and eva02_large_patch14_clip_224, the EVA02-CLIP-B/16 and L/14 image towers. FLOPs per image are the same
analytic counts evaclip reports (docs/performance.md, "How we measure"), so MFU compares like with like.
"""
import argparse
import json
import pathlib
import subprocess
import sys

import torch
import timm

MODELS = {  # evaclip variant -> (timm name, image size, forward GFLOP per image)
    "EVA02_CLIP_B_16": ("eva02_base_patch16_clip_224", 224, 35.13),
    "EVA02_CLIP_L_14": ("eva02_large_patch14_clip_224", 224, 162.00),
}
PEAK = 989e12  # H100/H200 dense bf16 peak: the MFU denominator (docs/performance.md)


def time_ms(fn, warmup=3, reps=10):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return sorted(times)[len(times) // 2]


def peer_rows(batch, compile_too):
    rows = []
    for variant, (name, size, gflop) in MODELS.items():
        model = timm.create_model(name, pretrained=False).cuda().eval()
        x = torch.randn(batch, 3, size, size, device="cuda")
        modes = [("eager", model)]
        if compile_too:
            modes.append(("compile", torch.compile(model)))
        for mode, m in modes:
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
                ms = time_ms(lambda: m(x))
            ips = batch / ms * 1e3
            rows.append({"variant": variant, "peer": f"timm {mode}", "batch": batch, "ms": ms, "img/s": ips,
                         "MFU": ips * gflop * 1e9 / PEAK})
            print(f"{variant} timm {mode:7s} batch {batch}: {ms:8.2f} ms  {ips:8.1f} img/s  MFU {rows[-1]['MFU']:.3f}",
                  flush=True)
        del model, modes
        torch.cuda.empty_cache()
    return rows


def ours(bin_dir, batch):
    exe = pathlib.Path(bin_dir) / "bench_model_cuda"
    if not exe.exists():
        print(f"model_cuda_peer: {exe} not found; peer figures only")
        return {}
    out = subprocess.run([str(exe), f"--benchmark_filter=bf16_mixed/batch:{batch}/fusion:7/", "--benchmark_format=json",
                          "--benchmark_min_time=0.5"], capture_output=True, text=True, check=True).stdout
    res = {}
    for b in json.loads(out)["benchmarks"]:
        variant = b["name"].split("/")[1]
        res[variant] = b["img/s"]
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="build/bin", help="folder holding bench_model_cuda")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--no-compile", action="store_true", help="eager only (torch.compile takes minutes)")
    ap.add_argument("--json", help="write the rows here")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("model_cuda_peer: no CUDA device")
    print(f"torch {torch.__version__}, timm {timm.__version__}, {torch.cuda.get_device_name()}")
    mine = ours(a.bin, a.batch)
    rows = peer_rows(a.batch, not a.no_compile)
    for r in rows:
        if r["variant"] in mine:
            r["evaclip img/s"] = mine[r["variant"]]
            r["ratio"] = mine[r["variant"]] / r["img/s"]
            print(f"{r['variant']} evaclip/{r['peer']}: {r['ratio']:.2f}x ({mine[r['variant']]:.1f} vs {r['img/s']:.1f} img/s)")
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
