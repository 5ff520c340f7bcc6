#!/usr/bin/python3
"""PyTorch peer of benchmarks/bench_attention_cuda.cu: RoPE + scaled-dot-product attention in bf16 on CUDA.

    python3 benchmarks/peers/attention_cuda_peer.py --bin build/bin [--json OUT.json]

On the same shapes as the benchmark ({B, H, T, hd, causal, rope}: B/16 and L/14 image attention at batch 64
and 1024 with RoPE after the CLS token, the text tower causal without RoPE), times what timm's EvaAttention
runs: the RoPE the way timm's eva.py applies it (apply_rot_embed_cat on the tokens after the prefix, with
timm's (N, 2 hd) sin || cos table, rot() of adjacent pairs, the float product cast back to bf16 and
concatenated with the CLS rows), then torch.nn.functional.scaled_dot_product_attention (PyTorch picks its
flash / memory-efficient kernel). Each repeat is timed alone with CUDA events after an L2 flush, after a
warm-up; the median is printed as ms and TFLOP/s (4 T^2 hd per (batch, head), halved when causal, the
RoPE not counted, as in the benchmark), for SDPA alone and for RoPE + SDPA. With --bin DIR it also runs
our benchmark with --benchmark_format=json and prints PyTorch ms / evaclip ms (> 1: evaclip is faster),
comparing RoPE + SDPA with our fused op (which includes the RoPE) and with our unfused ablation.
"""
import argparse
import json
import os
import re
import statistics
import subprocess

import torch
import torch.nn.functional as F

SHAPES = [  # (B, H, T, hd, causal, rope), as model_shapes() in bench_attention_cuda.cu
    (64, 12, 197, 64, False, True),
    (64, 16, 257, 64, False, True),
    (1024, 12, 197, 64, False, True),
    (1024, 16, 257, 64, False, True),
    (1024, 12, 77, 64, True, False),
]


def rot(x):
    """timm's rot(): adjacent pairs (x0, x1) -> (-x1, x0)."""
    return torch.stack([-x[..., 1::2], x[..., ::2]], -1).reshape(x.shape)


def apply_rot_embed_cat(x, emb):
    """timm's apply_rot_embed_cat (not rotate-half): emb is (N, 2 hd) = sin || cos."""
    sin_emb, cos_emb = emb.tensor_split(2, -1)
    return x * cos_emb + rot(x) * sin_emb


def eva_rope(x, emb, npt=1):
    """timm EvaAttention: the first npt (CLS) tokens are not rotated; the result is cast back to x's dtype."""
    return torch.cat([x[:, :, :npt, :], apply_rot_embed_cat(x[:, :, npt:, :], emb)], dim=2).type_as(x)


def time_cuda(fn, reps, flush):
    """Median milliseconds of fn() over reps calls, each after an L2 flush, timed with CUDA events."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for i in range(reps):
        flush.fill_(i & 0xFF)
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def flops(B, H, T, hd, causal):
    return 4.0 * T * T * hd * B * H * (0.5 if causal else 1.0)


def ours(bench):
    """{(kernel, B, H, T, hd, causal, rope): median ms} from our benchmark's JSON."""
    out = subprocess.run([bench, "--benchmark_format=json"], check=True, capture_output=True, text=True)
    res = {}
    for b in json.loads(out.stdout)["benchmarks"]:
        if b.get("error_occurred"):
            raise SystemExit(f"{b['name']}: {b.get('error_message')}")
        m = re.match(r"BM_rope_attention<(\w+)>/B:(\d+)/H:(\d+)/T:(\d+)/hd:(\d+)"
                     r"/causal:(\d)/rope:(\d)",
                     b["name"])
        if m:
            kernel, *nums = m.groups()
            B, H, T, hd, causal, rope = map(int, nums)
            res[(kernel, B, H, T, hd, bool(causal), bool(rope))] = b["median_ms"]
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", help="folder holding bench_attention_cuda; also run it and print the ratios")
    ap.add_argument("--json", help="write the rows here (tools/gpu_table.py reads them)")
    ap.add_argument("--reps", type=int, default=50)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to time")
        return
    dev = torch.device("cuda")
    torch.manual_seed(0)
    l2 = torch.cuda.get_device_properties(dev).L2_cache_size
    flush = torch.empty(2 * l2, dtype=torch.uint8, device=dev)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(dev)}, bf16")
    bench = os.path.join(args.bin, "bench_attention_cuda") if args.bin else None
    ref = ours(bench) if bench and os.path.exists(bench) else {}
    rows = []
    print(f"{'B':>5} {'H':>3} {'T':>4} {'hd':>3} {'causal':>6} {'rope':>4} | {'sdpa ms':>8} {'TFLOP/s':>7} | "
          f"{'rope+sdpa ms':>12} {'TFLOP/s':>7}" + (" | ours fused ms  ratio | unfused ms  ratio" if ref else ""))
    for (B, H, T, hd, causal, rope) in SHAPES:
        q, k, v = (torch.randn(B, H, T, hd, device=dev, dtype=torch.bfloat16) for _ in range(3))
        angle = (torch.rand(T - 1, hd, device=dev) * 6.4 - 3.2)
        emb = torch.cat([angle.sin(), angle.cos()], dim=-1)  # timm's layout: sin || cos, fp32
        sdpa = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        if rope:
            full = lambda: F.scaled_dot_product_attention(eva_rope(q, emb), eva_rope(k, emb), v, is_causal=causal)
        else:
            full = sdpa
        with torch.no_grad():
            t_sdpa = time_cuda(sdpa, args.reps, flush)
            t_full = time_cuda(full, args.reps, flush)
        f = flops(B, H, T, hd, causal)
        line = (f"{B:>5} {H:>3} {T:>4} {hd:>3} {int(causal):>6} {int(rope):>4} | {t_sdpa:>8.3f} "
                f"{f / t_sdpa / 1e9:>7.1f} | {t_full:>12.3f} {f / t_full / 1e9:>7.1f}")
        row = {"shape": f"B{B} H{H} T{T} hd{hd}" + (" causal" if causal else "") + (" rope" if rope else ""),
               "sdpa ms": t_sdpa, "rope+sdpa ms": t_full}
        if ref:
            fused = ref[("fused", B, H, T, hd, causal, rope)]
            unfused = ref[("unfused", B, H, T, hd, causal, rope)]
            line += f" | {fused:>13.3f} {t_full / fused:>6.2f} | {unfused:>10.3f} {t_full / unfused:>6.2f}"
            row.update({"fused ms": fused, "ratio fused": t_full / fused, "ratio unfused": t_full / unfused})
        rows.append(row)
        print(line, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
