#!/usr/bin/python3
"""Pillow + torchvision peer of benchmarks/bench_image.cpp: decode + CLIP preprocessing, images/s on one core.

    /usr/bin/python3 benchmarks/peers/image_peer.py --bench build/bin/bench_image [--images build/bench/images]

Writes the benchmark images if the folder has none (8 JPEG, quality 90, 4:2:0, and 8 PNG, all 500x375,
ImageNet's typical size; synthetic content), times the same pipelines as bench_image on the same files
(read into memory first; one torch thread), runs bench_image on them (EVACLIP_BENCH_IMAGES) and prints
both rates and their ratio. Needs Debian's python3-pil and python3-torchvision.
"""
import argparse
import glob
import io
import json
import os
import platform
import subprocess
import time

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

S = 224
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def write_images(d, n=8, w=500, h=375):
    os.makedirs(d, exist_ok=True)
    rng = np.random.RandomState(0)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    for i in range(n):
        chans = []
        for c in range(3):
            f = 0.5 + 0.3 * np.sin(x / rng.uniform(8, 40) + y / rng.uniform(8, 40) + c) * np.cos(y / rng.uniform(10, 60))
            for _ in range(12):
                x0, y0 = rng.randint(0, w), rng.randint(0, h)
                f[y0:y0 + rng.randint(5, h // 3), x0:x0 + rng.randint(5, w // 3)] += rng.uniform(-0.3, 0.3)
            chans.append(f + rng.normal(0, 0.02, f.shape))
        im = Image.fromarray((np.clip(np.stack(chans, -1), 0, 1) * 255 + 0.5).astype(np.uint8))
        im.save(f"{d}/img{i}.jpg", quality=90)
        im.save(f"{d}/img{i}.png")


def rate(fn, items, seconds=2.0):
    """Images per CPU second of fn over items (cycled), after one warm-up pass (CPU time, as Google
    Benchmark's items_per_second, so a busy machine skews both sides alike)."""
    for it in items:
        fn(it)
    n, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds:
        fn(items[n % len(items)])
        n += 1
    return n / (time.process_time() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", default="build/bench/images")
    ap.add_argument("--bench", default="build/bin/bench_image")
    ap.add_argument("--seconds", type=float, default=2.0)
    a = ap.parse_args()
    if not glob.glob(f"{a.images}/*.jpg"):
        write_images(a.images)
    torch.set_num_threads(1)
    data = {ext: [open(f, "rb").read() for f in sorted(glob.glob(f"{a.images}/*{ext}"))] for ext in (".jpg", ".png")}
    rgb = lambda b: Image.open(io.BytesIO(b)).convert("RGB")  # as torchvision's ImageFolder loader
    evalt = T.Compose([T.Resize(S, interpolation=InterpolationMode.BICUBIC), T.CenterCrop(S), T.ToTensor(),
                       T.Normalize(MEAN, STD)])
    traint = T.Compose([T.RandomResizedCrop(S, scale=(0.9, 1.0), interpolation=InterpolationMode.BICUBIC),
                        T.ToTensor(), T.Normalize(MEAN, STD)])
    decoded = [rgb(b) for b in data[".jpg"]]
    peer = {
        "BM_decode_eval/jpeg": rate(lambda b: evalt(rgb(b)), data[".jpg"], a.seconds),
        "BM_decode_eval/png": rate(lambda b: evalt(rgb(b)), data[".png"], a.seconds),
        "BM_decode_train/jpeg": rate(lambda b: traint(rgb(b)), data[".jpg"], a.seconds),
        "BM_decode_only/jpeg": rate(lambda b: rgb(b).load(), data[".jpg"], a.seconds),
        "BM_eval_only/jpeg": rate(evalt, decoded, a.seconds),
    }
    env = dict(os.environ, EVACLIP_BENCH_IMAGES=a.images)
    out = subprocess.run([a.bench, "--benchmark_format=json"], env=env, check=True, capture_output=True, text=True)
    ours = {b["name"]: b["items_per_second"] for b in json.loads(out.stdout)["benchmarks"]}
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; one core each; S={S}; "
          f"{len(data['.jpg'])} JPEG + {len(data['.png'])} PNG from {a.images}")
    print(f"{'benchmark':<24}{'evaclip img/s':>15}{'PIL+tv img/s':>15}{'ratio':>8}")
    for name, r in peer.items():
        print(f"{name:<24}{ours.get(name, float('nan')):>15.1f}{r:>15.1f}{ours.get(name, float('nan')) / r:>8.2f}")


if __name__ == "__main__":
    main()
