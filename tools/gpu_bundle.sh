#!/usr/bin/env bash
# gpu_bundle.sh — builds the GPU programs here (no GPU needed) and packs them, with the shared libraries
# they load that a CUDA machine may lack, into .gpu/bundle.tar.xz for tools/gpu_check.sh to run there.
#
# Why: a lent GPU machine has nvcc, CMake and the CUDA libraries but none of evaclip's other dependencies
# (OpenBLAS, ICU, GoogleTest, ...) and no network, and its minutes are scarce: build on this machine,
# carry the binaries. The CUDA libraries themselves (cudart, cuBLAS, cuBLASLt) are not packed: the GPU
# machine has its own, matching its driver.
#   tools/gpu_bundle.sh [BUILD_DIR]      (default build-bundle/, configured here with CUDA on and
#                                         EVACLIP_NATIVE off: the GPU machine's CPU may lack this one's
#                                         vector instructions)
#   then: device run with carry [".gpu"], command `tools/gpu_check.sh`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build-bundle}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DEVACLIP_CUDA=ON -DEVACLIP_NATIVE=OFF -DEVACLIP_INSTALL=OFF >/dev/null
elif grep -q '^EVACLIP_NATIVE:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "gpu_bundle: $build/ is built with EVACLIP_NATIVE=ON (-march=native); use a build without it" >&2
  exit 1
fi
targets=(evaclip_gpu_tests evaclip_cli_gpu_tests evaclip-features)
for src in benchmarks/bench_*_cuda.cu benchmarks/ablation/ablate_*.cu; do
  [ -e "$src" ] && targets+=("$(basename "${src%.cu}")")
done
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
for t in "${targets[@]}"; do cp "$build/bin/$t" "$stage/bin/"; done
# Every non-CUDA library the programs load from outside the base system (glibc and the loader stay).
for t in "$stage"/bin/*; do
  ldd "$t" | awk '/=> \// {print $3}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|libcuda.so*|libcudart*|libcublas*) ;;
    *) cp -L "$lib" "$stage/lib/" ;;
  esac
done
# Where the build was made: the test binaries name their fixtures and programs by absolute path.
printf '%s\n' "$(pwd)" > "$stage/source_dir"
printf '%s\n' "$(realpath "$build")" > "$stage/build_dir"
mkdir -p .gpu
tar -C "$stage" -cJf .gpu/bundle.tar.xz .
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
echo "gpu_bundle: .gpu/bundle.tar.xz $(du -h .gpu/bundle.tar.xz | cut -f1) (${targets[*]})"
