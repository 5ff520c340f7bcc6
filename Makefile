# evaclip — the developer entry points (see README.md). Everything is CMake underneath; this file only
# strings the steps together. Each target first runs tools/install_deps.sh (installs missing Debian
# packages; a no-op when everything is there).
#
#   make build   configure + build everything into build/ (tests, examples, benchmarks); fetches the assets
#   make assets  download the CLIP BPE vocabulary, ImageNet class names and templates (tools/fetch_assets.py)
#   make test    build + ctest (all but label gpu; includes the package checks) + unit tests again
#                under AddressSanitizer/UBSan in build-asan/
#   make demo    build and run build/bin/evaclip-demo (synthetic data -> training -> zero-shot), plot the
#                curves into out/demo/curves.png
#   make bench   build and run the benchmarks; JSON results in build/bench/
#   make clean   remove build/ and build-asan/
#
# Variables: EVACLIP_CUDA=AUTO|ON|OFF, BUILD_TYPE=Release, JOBS=<nproc>, CMAKE_ARGS=..., DEMO_ARGS=..., DEMO_OUT=...,
# BENCH_ARGS=... (e.g. BENCH_ARGS=--benchmark_filter=layernorm), EVACLIP_SKIP_DEPS=1.

BUILD       ?= build
ASAN_BUILD  ?= build-asan
BUILD_TYPE  ?= Release
EVACLIP_CUDA ?= AUTO
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS  ?=
DEMO_ARGS   ?=
DEMO_OUT    ?= out/demo
# Debian's python3 (with python3-matplotlib from install_deps.sh) when a pyenv/venv python3 comes first in PATH
PYTHON      ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
BENCH_ARGS  ?=

.PHONY: all deps assets configure build test test-asan demo bench format clean help
.DEFAULT_GOAL := build

all: build

help:
	@sed -n '1,15p' Makefile

deps:
	@tools/install_deps.sh

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DEVACLIP_CUDA=$(EVACLIP_CUDA) $(CMAKE_ARGS)

# The CLIP BPE vocabulary (from the open_clip_torch wheel on PyPI) into $EVACLIP_CACHE or ~/.cache/evaclip;
# no network when it is already there. The tokenizer tests fail without it.
assets: deps
	python3 tools/fetch_assets.py

build: configure assets
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) -LE gpu -j $(JOBS) --output-on-failure
	$(MAKE) --no-print-directory test-asan

# The unit tests once more with AddressSanitizer + UndefinedBehaviorSanitizer (CPU only, -O1, asserts on).
test-asan: deps assets
	cmake -S . -B $(ASAN_BUILD) -DEVACLIP_SANITIZE=ON -DEVACLIP_CUDA=OFF -DCMAKE_BUILD_TYPE=Debug \
	  "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" -DEVACLIP_BUILD_EXAMPLES=OFF -DEVACLIP_BUILD_BENCHMARKS=OFF $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target evaclip_unit_tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(ASAN_BUILD)/bin/evaclip_unit_tests --gtest_brief=1

# The demo writes its data, log and checkpoint under $(DEMO_OUT); the curves are drawn afterwards, quietly,
# so that the demo's zero-shot line stays the last one printed.
demo: configure assets
	@test -f examples/demo.cpp || { echo "make demo: examples/demo.cpp does not exist yet" >&2; exit 1; }
	cmake --build $(BUILD) -j $(JOBS) --target evaclip-demo
	$(BUILD)/bin/evaclip-demo --out $(DEMO_OUT) $(DEMO_ARGS)
	@$(PYTHON) tools/plot_training.py $(DEMO_OUT)/run/log.jsonl -o $(DEMO_OUT)/curves.png >/dev/null

bench: configure
	cmake --build $(BUILD) -j $(JOBS) --target evaclip_benchmarks
	@mkdir -p $(BUILD)/bench
	@set -e; found=0; for b in $$(cat $(BUILD)/benchmarks/benchmarks.txt); do \
	  found=1; name=$$(basename $$b); \
	  echo "== $$name -> $(BUILD)/bench/$$name.json"; \
	  $$b --benchmark_out=$(BUILD)/bench/$$name.json --benchmark_out_format=json $(BENCH_ARGS); \
	done; [ $$found = 1 ] || echo "make bench: no benchmarks (benchmarks/bench_*.cpp) yet"

# Formats the project's C++ sources in place with .clang-format.
format:
	find include tests examples benchmarks \( -name '*.hpp' -o -name '*.cpp' -o -name '*.cuh' -o -name '*.cu' \) \
	  -print0 | xargs -0 -r clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
