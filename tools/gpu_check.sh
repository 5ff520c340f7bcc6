#!/usr/bin/env bash
# gpu_check.sh — the one command for a machine with an NVIDIA GPU: get the GPU programs (unpack the
# bundle that tools/gpu_bundle.sh made, or build them with CMake), run every GPU test, the GPU
# benchmarks and peers and every version of each kernel ablation (benchmarks/ablation/), write everything
# under $OUT, and print a short table last. Fits in 10 minutes on an H200 (the benchmarks run at a short
# --benchmark_min_time).
#   tools/gpu_check.sh [--build] [--quick]
#     --build   build in build-gpu/ with CMake even when a bundle is there (needs every dependency)
#     --quick   tests only: no benchmarks, no peers, no ablations
# Environment: OUT (default out/gpu_check), BENCH_MIN_TIME (default 0.2).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-out/gpu_check}
mkdir -p "$OUT"
build_mode=0 quick=0
for a in "$@"; do
  case "$a" in
    --build) build_mode=1 ;;
    --quick) quick=1 ;;
    *) echo "gpu_check: unknown option $a" >&2; exit 2 ;;
  esac
done
log() { echo "== $*" | tee -a "$OUT/steps.log"; }
start=$(date +%s)

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv,noheader \
  > "$OUT/gpu.txt" 2>&1 || { echo "gpu_check: nvidia-smi failed: no GPU here" >&2; exit 1; }
log "gpu: $(cat "$OUT/gpu.txt")"

# ---- the programs ----
if [ $build_mode = 0 ] && [ -f .gpu/bundle.tar.xz ]; then
  stage=/tmp/evaclip-gpu
  rm -rf "$stage" && mkdir -p "$stage" && tar -C "$stage" -xJf .gpu/bundle.tar.xz
  # The test binaries name fixtures and programs by the absolute paths of the machine that built them.
  src=$(cat "$stage/source_dir") bld=$(cat "$stage/build_dir")
  if [ "$(realpath "$src" 2>/dev/null)" != "$(pwd -P)" ]; then
    if [ -e "$src" ] && [ ! -L "$src" ]; then
      echo "gpu_check: the bundle was built in $src, which exists here as another folder; run from there" >&2
      exit 1
    fi
    mkdir -p "$(dirname "$src")" && ln -sfn "$(pwd -P)" "$src"
  fi
  [ -e "$bld/bin/evaclip-features" ] || { rm -rf "$bld"; mkdir -p "$(dirname "$bld")"; ln -sfn "$stage" "$bld"; }
  bin=$stage/bin
  export LD_LIBRARY_PATH="$stage/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # cuBLAS(Lt) from the CUDA toolkit, else from PyTorch's nvidia wheels.
  for t in "$bin"/*; do ldd "$t"; done | grep -q 'not found' && {
    for d in /usr/local/cuda/lib64 $(dirname "$(find / -name 'libcublasLt.so.13*' -not -path '/proc/*' 2>/dev/null | head -1)" 2>/dev/null); do
      [ -d "$d" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
    done
  }
  log "bundle: $(ls "$bin" | tr '\n' ' ')"
else
  log "build: cmake in build-gpu/"
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DEVACLIP_CUDA=ON -DEVACLIP_INSTALL=OFF \
    > "$OUT/configure.log" 2>&1 || { tail -20 "$OUT/configure.log"; exit 1; }
  targets=(evaclip_gpu_tests evaclip_cli_gpu_tests evaclip-features)
  for s in benchmarks/bench_*_cuda.cu benchmarks/ablation/ablate_*.cu; do
    [ -e "$s" ] && targets+=("$(basename "${s%.cu}")")
  done
  cmake --build build-gpu -j "$(nproc)" --target "${targets[@]}" > "$OUT/build.log" 2>&1 ||
    { tail -30 "$OUT/build.log"; exit 1; }
  bin=build-gpu/bin
fi
for t in "$bin"/*; do
  if ldd "$t" | grep 'not found' > "$OUT/ldd_missing.txt"; then
    echo "gpu_check: $t cannot load: $(tr '\n' ' ' < "$OUT/ldd_missing.txt")" >&2
    exit 1
  fi
done

# ---- tests: each kernel against its CPU reference, then the whole model through evaclip-features ----
# EVACLIP_CUDA_SYNC=1 makes every kernel launch synchronise, so a fault is reported by the op that caused it.
status=0
for t in evaclip_gpu_tests evaclip_cli_gpu_tests; do
  log "test: $t"
  EVACLIP_CUDA_SYNC=1 OMP_NUM_THREADS=8 timeout 300 "$bin/$t" --gtest_output="json:$OUT/$t.json" \
    > "$OUT/$t.log" 2>&1 || status=1
  grep -E '^\[  (FAILED|PASSED|SKIPPED) ' "$OUT/$t.log" | head -40
done

# ---- benchmarks and peers ----
if [ $quick = 0 ]; then
  for b in "$bin"/bench_*_cuda; do
    [ -x "$b" ] || continue
    name=$(basename "$b")
    log "bench: $name"
    timeout 120 "$b" --benchmark_min_time="${BENCH_MIN_TIME:-0.2}" --benchmark_format=json \
      > "$OUT/$name.json" 2> "$OUT/$name.err" || echo "gpu_check: $name failed (see $OUT/$name.err)"
  done
  for p in benchmarks/peers/*_cuda_peer.py; do
    [ -e "$p" ] || continue
    name=$(basename "$p" .py)
    log "peer: $name"
    PYTHONUNBUFFERED=1 timeout 180 python3 "$p" --bin "$bin" --json "$OUT/$name.json" > "$OUT/$name.log" 2>&1 ||
      echo "gpu_check: $name failed (see $OUT/$name.log)"
    tail -15 "$OUT/$name.log"
  done
  # Every version of each kernel against the CPU reference, timed beside version 0 (docs/cuda.md).
  for b in "$bin"/ablate_*; do
    [ -x "$b" ] || continue
    name=$(basename "$b")
    log "ablation: $name all"
    timeout 300 "$b" all --benchmark_min_time="${BENCH_MIN_TIME:-0.2}" > "$OUT/$name.txt" 2>&1 ||
      echo "gpu_check: $name: a version failed its check or the program failed (see $OUT/$name.txt)"
  done
fi

log "time: $(( $(date +%s) - start )) s"
python3 tools/gpu_table.py "$OUT"
for f in "$OUT"/ablate_*.txt; do [ -e "$f" ] && cat "$f"; done
exit $status
