#!/usr/bin/python3
"""PyTorch peer of benchmarks/bench_model_cpu.cpp: EVA02-CLIP-B/16 image and text forward on the CPU.

    OMP_NUM_THREADS=2 /usr/bin/python3 benchmarks/peers/model_cpu_peer.py --bench build/bin/bench_model_cpu --rounds 3

In one run, on the same shapes and thread count (OMP_NUM_THREADS, default 2, given to torch.set_num_threads
and to the benchmark): builds the official EVA02-CLIP-B-16 (baaivision/EVA's eva_clip package, the source
tools/make_fixtures.py caches in ~/.cache/evaclip/, config EVA02-CLIP-B-16.json with xattn and fusedLN off
as on any CPU, random init, eval, fp32) and timm's eva02_base_patch16_clip_224 (random init), times
encode_image / encode_text / the timm forward under torch.no_grad() (median of whole-call times after a
warm-up), then runs the benchmark with --benchmark_format=json and prints ms and ratios (PyTorch / evaclip:
> 1 means evaclip is faster), with the torch version and the BLAS it actually loaded. With --rounds N the two
sides alternate N times per shape (PyTorch, evaclip, PyTorch, evaclip, ...) and the table reports the median
of the N per-round ratios, so a burst of load from another process lands on one round, not on one side. Any python with torch,
timm 0.9, torchvision and einops works (e.g. a venv with the PyPI torch wheel).
"""
import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE_ROOT = Path(os.environ.get("EVACLIP_CACHE", Path.home() / ".cache" / "evaclip"))
EVA_SRC = CACHE_ROOT / "EVA-5623d08bb08a" / "EVA-CLIP" / "rei"  # tools/make_fixtures.py's cache
THREADS = int(os.environ.setdefault("OMP_NUM_THREADS", "2"))  # before torch starts its pool

import torch  # noqa: E402


def loadavg():
    return "{:.2f}".format(os.getloadavg()[0])


def time_call(fn, min_time, min_reps):
    """Median seconds of fn() over at least min_reps calls and min_time seconds, after one warm-up call."""
    fn()
    times, start = [], time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), len(times)


def blas_in_use():
    """The BLAS libraries this process has mapped (after a matmul), and what torch was built against."""
    a = torch.randn(256, 256)
    (a @ a).sum().item()
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if any(k in p.lower() for k in ("blas", "mkl", "lapack", "dnnl")) and "cuda" not in p and ".libs/" not in p:
                libs.add(p)
    cfg = torch.__config__.show()
    built = [t.strip() for t in cfg.replace("\n", ",").split(",") if "BLAS_INFO" in t or "MKL" in t or "oneDNN" in t]
    return sorted(libs), built


def run_ours(bench, name, repetitions, min_time):
    """(ms, GFLOP/s, threads) of one benchmark: the median over repetitions, or the one run."""
    cmd = [bench, "--benchmark_format=json", f"--benchmark_filter=^{name}$", f"--benchmark_repetitions={repetitions}",
           f"--benchmark_min_time={min_time / max(repetitions, 1):g}",
           f"--benchmark_report_aggregates_only={str(repetitions > 1).lower()}"]
    out = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS=str(THREADS)), check=True, capture_output=True,
                         text=True).stdout
    bms = json.loads(out)["benchmarks"]
    bm = next((x for x in bms if x.get("aggregate_name") == "median"), bms[0])
    return bm["real_time"], bm["flops"] / 1e9, bm["threads"]


def official_model(src):
    sys.path.insert(0, str(src))
    os.environ.pop("RoPE", None)
    with contextlib.redirect_stdout(io.StringIO()):  # "please install xformers/apex"
        import eva_clip
    cfg = json.loads((Path(eva_clip.__file__).parent / "model_configs" / "EVA02-CLIP-B-16.json").read_text())
    for tower in ("vision_cfg", "text_cfg"):  # xformers and apex's fused LayerNorm are CUDA-only
        cfg[tower]["xattn"] = False
        cfg[tower]["fusedLN"] = False
    cfg_path = CACHE_ROOT / "configs" / "evaclip-bench-EVA02-CLIP-B-16.json"
    cfg_path.parent.mkdir(parents=True, exist_ok=True)
    cfg_path.write_text(json.dumps(cfg, indent=2))
    eva_clip.add_model_config(cfg_path)
    torch.manual_seed(0)
    with contextlib.redirect_stdout(io.StringIO()):
        m = eva_clip.create_model(cfg_path.stem, pretrained=None, precision="fp32", device="cpu")
    assert os.environ.get("RoPE") == "1", "create_model should have turned RoPE on"
    return m.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=str(ROOT / "build" / "bin" / "bench_model_cpu"))
    ap.add_argument("--eva-src", default=str(EVA_SRC), help="directory holding the eva_clip/ package")
    ap.add_argument("--min-time", type=float, default=4.0, help="seconds per PyTorch shape (default 4)")
    ap.add_argument("--min-reps", type=int, default=3)
    ap.add_argument("--repetitions", type=int, default=3, help="benchmark repetitions (median reported)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternate PyTorch and evaclip this many times per shape; report the median ratio")
    ap.add_argument("--no-timm", action="store_true", help="skip timm's eva02_base_patch16_clip_224")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8], help="batch sizes (default 1 8)")
    args = ap.parse_args()

    torch.set_num_threads(THREADS)
    import timm
    libs, built = blas_in_use()
    print(f"python {platform.python_version()} ({sys.executable}), torch {torch.__version__}, timm {timm.__version__},"
          f" {torch.get_num_threads()} torch threads, OMP_NUM_THREADS={THREADS}")
    print("torch built with: " + "; ".join(built))
    print("BLAS libraries mapped: " + (", ".join(libs) or "none named *blas*/mkl/dnnl (statically linked?)"))

    official = official_model(args.eva_src)
    peers = {"official": official}
    if not args.no_timm:
        peers["timm"] = timm.create_model("eva02_base_patch16_clip_224", pretrained=False).eval()

    g = torch.Generator().manual_seed(1)
    rows = []  # (shape, peer, evaclip ms, torch ms, ratio, evaclip GFLOP/s, loads), medians over the rounds
    with torch.no_grad():
        for b in args.batches:
            x = torch.randn(b, 3, 224, 224, generator=g)
            ids = torch.randint(1, 49405, (b, 77), generator=g)
            for i in range(b):  # end-of-text (the argmax id) at varying lengths, as the benchmark does
                n = 8 + (i * 9) % 69
                ids[i, n] = 49407
                ids[i, n + 1:] = 0
            shapes = [("image", [(p, (lambda m=m: m.encode_image(x)) if p == "official" else (lambda m=m: m(x)))
                                 for p, m in peers.items()]),
                      ("text", [("official", lambda: official.encode_text(ids))])]
            for tower, fns in shapes:
                # Side by side: the peers, then evaclip on the same shape, so both see the same load; repeated.
                name = f"BM_{tower}_forward/B:{b}/real_time"
                runs = {peer: [] for peer, _ in fns}  # peer -> [(torch ms, evaclip ms, GFLOP/s, load)]
                for r in range(args.rounds):
                    timed = []
                    for peer, fn in fns:
                        load = loadavg()
                        s, n = time_call(fn, args.min_time, args.min_reps)
                        timed.append((peer, s * 1e3))
                        print(f"  [{r + 1}/{args.rounds}] torch {peer:8s} {name:32s} {s * 1e3:9.1f} ms  ({n} calls,"
                              f" load {load})", flush=True)
                    load = loadavg()
                    ms, gflops, threads = run_ours(args.bench, name, args.repetitions, args.min_time)
                    print(f"  [{r + 1}/{args.rounds}] evaclip        {name:32s} {ms:9.1f} ms  ({threads:.0f} threads,"
                          f" load {load})", flush=True)
                    for peer, pms in timed:
                        runs[peer].append((pms, ms, gflops, load))
                for peer, rs in runs.items():
                    med = statistics.median
                    loads = sorted(float(x[3]) for x in rs)
                    rows.append((f"{tower} B={b}", peer, med(x[1] for x in rs), med(x[0] for x in rs),
                                 med(x[0] / x[1] for x in rs), med(x[2] for x in rs),
                                 f"{loads[0]:.1f}" if loads[0] == loads[-1] else f"{loads[0]:.1f}-{loads[-1]:.1f}"))

    print()
    print(f"medians over {args.rounds} round(s); ratio = median of the per-round PyTorch / evaclip ratios")
    print("| shape | peer | evaclip ms | PyTorch ms | PyTorch / evaclip | evaclip GFLOP/s | load |")
    print("|---|---|---|---|---|---|---|")
    for shape, peer, ms, pms, ratio, gflops, load in rows:
        print(f"| {shape} | {peer} | {ms:.1f} | {pms:.1f} | {ratio:.2f} | {gflops:.1f} | {load} |")


if __name__ == "__main__":
    main()
