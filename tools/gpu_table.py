#!/usr/bin/env python3
"""gpu_table.py — the short table tools/gpu_check.sh prints last: GPU test counts and failures, each GPU
benchmark's headline counters, and the peers' ratios, from the JSON files gpu_check wrote into one folder.

    python3 tools/gpu_table.py OUT_DIR
"""
import json
import pathlib
import sys

# Google Benchmark user counters worth a column, in this order, when a benchmark reports them.
COUNTERS = ["TFLOP/s", "TB/s", "frac_of_790", "frac_of_4.3", "img/s", "MFU", "ratio"]


def load(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        print(f"  {path.name}: unreadable ({e})")
        return None


def tests(out):
    for f in sorted(out.glob("evaclip_*gpu_tests.json")):
        j = load(f)
        if j is None:
            continue
        passed = failed = skipped = 0
        failures = []
        for suite in j.get("testsuites", []):
            for t in suite.get("testsuite", []):
                name = f"{suite['name']}.{t['name']}"
                if t.get("failures"):
                    failed += 1
                    failures.append((name, t["failures"][0].get("failure", "").splitlines()[0:2]))
                elif t.get("result") == "SKIPPED" or t.get("status") == "NOTRUN":
                    skipped += 1
                else:
                    passed += 1
        print(f"{f.stem:28s} passed {passed:4d}  failed {failed:4d}  skipped {skipped:4d}")
        for name, msg in failures[:15]:
            print(f"  FAILED {name}: {' '.join(msg)[:160]}")


def benches(out):
    for f in sorted(out.glob("bench_*_cuda.json")):
        j = load(f)
        if j is None:
            continue
        print(f"{f.stem}")
        rows = j.get("benchmarks", [])
        # With repetitions, one line per benchmark: its median (or its error, once).
        aggregated = {b.get("run_name") for b in rows if b.get("run_type") == "aggregate"}
        seen = set()
        for b in rows:
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue
            if b.get("run_type") != "aggregate" and b.get("run_name") in aggregated:
                continue
            if b["name"] in seen:
                continue
            seen.add(b["name"])
            cols = [f"{c} {b[c]:.3g}" for c in COUNTERS if c in b]
            t = f"{b.get('real_time', 0):.4g} {b.get('time_unit', '')}"
            err = " ERROR " + b["error_message"] if b.get("error_occurred") else ""
            print(f"  {b['name'][:60]:60s} {t:>12s}  {'  '.join(cols)}{err}")


def peers(out):
    for f in sorted(out.glob("*_cuda_peer.json")):
        j = load(f)
        if j is None:
            continue
        print(f"{f.stem}")
        for row in j.get("rows", []):
            print("  " + "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "out/gpu_check")
    print("==== gpu_check summary ====")
    gpu = out / "gpu.txt"
    if gpu.exists():
        print("gpu: " + gpu.read_text().strip())
    tests(out)
    benches(out)
    peers(out)


if __name__ == "__main__":
    main()
