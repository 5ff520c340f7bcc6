#!/usr/bin/env python3
"""plot_training.py — draws the curves of an evaclip training log (JSONL, one record per step) into a PNG.

    python3 tools/plot_training.py logs/<name>/log.jsonl [-o curves.png] [--smooth 20]

Panels: loss (raw and smoothed), learning rates per tower, the temperature exp(logit_scale) with the
gradient norm, and throughput. Any field missing from the log leaves its panel empty. Several logs may be
given to compare runs. Needs matplotlib (Debian: python3-matplotlib).
"""
import argparse
import json
import os
import sys


def read_log(path):
    records = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"plot_training.py: {path}:{n}: not JSON ({e.msg})")
            if isinstance(rec, dict) and "step" in rec:
                records.append(rec)
    if not records:
        sys.exit(f"plot_training.py: {path}: no records with a 'step'")
    return records


def moving_average(values, window):
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def series(records, key):
    pts = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float))]
    return [p[0] for p in pts], [p[1] for p in pts]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("logs", nargs="+", help="training logs (.jsonl)")
    ap.add_argument("-o", "--out", help="output PNG (default: next to the first log, curves.png)")
    ap.add_argument("--smooth", type=int, default=20, help="moving-average window for the loss")
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.logs[0])), "curves.png")
    fig, ax = plt.subplots(2, 2, figsize=(11, 7))
    for path in args.logs:
        recs = read_log(path)
        label = os.path.basename(os.path.dirname(os.path.abspath(path))) or path
        x, y = series(recs, "loss")
        ax[0, 0].plot(x, y, alpha=0.25)
        ax[0, 0].plot(x, moving_average(y, max(1, args.smooth)), label=label)
        for key in ("lr_visual", "lr_text", "lr_other"):
            x, y = series(recs, key)
            if x:
                ax[0, 1].plot(x, y, label=f"{label} {key[3:]}")
        x, y = series(recs, "logit_scale")
        ax[1, 0].plot(x, y, label=f"{label} exp(logit_scale)")
        x, y = series(recs, "grad_norm")
        ax[1, 0].plot(x, y, linestyle=":", label=f"{label} grad norm")
        x, y = series(recs, "samples_per_s")
        ax[1, 1].plot(x, y, label=label)
    titles = [("loss (smoothed)", "symmetric InfoNCE"), ("learning rate", "lr"),
              ("temperature and gradient norm", ""), ("throughput", "samples/s")]
    for a, (title, ylabel) in zip(ax.flat, titles):
        a.set_title(title)
        a.set_xlabel("step")
        a.set_ylabel(ylabel)
        a.grid(alpha=0.3)
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=8)
    ax[1, 0].set_yscale("log")
    fig.tight_layout()
    tmp = out + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, out)  # readers never see a half-written PNG
    print(f"plot: {out}")


if __name__ == "__main__":
    main()
