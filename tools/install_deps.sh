#!/usr/bin/env bash
# install_deps.sh — installs the Debian/Ubuntu packages that evaclip's build, tests, examples and
# benchmarks need, and only those that are missing (safe to run again; `make` runs it first).
#   compilers/tools: cmake g++ make pkg-config python3   (OpenMP comes with g++: libgomp)
#   assets:          python3-pip (fetch_assets.py downloads through pip, which honours the site's
#                    index mirror, proxy and certificates in pip.conf)
#   plots:           python3-matplotlib                  (tools/plot_training.py, make demo)
#   libraries:       libgtest-dev libbenchmark-dev libcli11-dev libstb-dev libopenblas-openmp-dev libdnnl-dev
#                    nlohmann-json3-dev libicu-dev zlib1g-dev libarchive-dev
#                    ocl-icd-opencl-dev (only a "Recommends" of libdnnl-dev, but its CMake config needs OpenCL)
# The CUDA toolkit (nvcc) is optional and NOT installed here: install it from NVIDIA; with nvcc on the
# PATH (or in /usr/local/cuda) the CUDA targets are built too.
# EVACLIP_SKIP_DEPS=1 skips this step (e.g. on a machine set up by hand).
set -euo pipefail

packages=(cmake g++ make pkg-config python3 python3-pip python3-matplotlib
          libgtest-dev libbenchmark-dev libcli11-dev libstb-dev libopenblas-openmp-dev libdnnl-dev
          nlohmann-json3-dev libicu-dev zlib1g-dev libarchive-dev ocl-icd-opencl-dev)

if [ "${EVACLIP_SKIP_DEPS:-0}" = 1 ]; then
  exit 0
fi
if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "install_deps.sh: not a Debian-based system; install these (or their equivalents) yourself:" >&2
  echo "  ${packages[*]}" >&2
  exit 0  # CMake reports anything that is really missing
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install_deps.sh: missing packages: ${missing[*]}" >&2
    echo "  run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi

echo "install_deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
