// train.cpp — evaclip-train: trains an EVA-CLIP model with the paper's recipe (flags as in EVA-CLIP's
// training/params.py; docs/training.md maps each official run to a command line).
//
//   evaclip-train --model EVA02-CLIP-B-16 --train-data data.tsv --batch-size 64 --epochs 1 --lr 5e-4 \
//                 --visual-lr 2e-4 --text-lr 2e-5 --visual-ld 0.75 --text-ld 0.75 --wd 0.05 --warmup 2000 \
//                 --grad-clip 5.0 --precision bf16 --grad-checkpointing --seed 4096 [--resume latest]
//
// Writes <logs>/<name>/log.jsonl (one record per step) and <logs>/<name>/checkpoints/step_N.safetensors
// (+ .state.safetensors). Errors: one line on stderr, exit 1. --block NAME trains another compiled vision
// block; each (precision, block) is compiled in a translation unit of its own, and the CMake options
// EVACLIP_BLOCKS / EVACLIP_PRECISIONS choose which (docs/performance.md).
#include "train_instances.hpp"  // generated: the (precision, block) pairs this build compiled (CMakeLists.txt)
#include "train_cli.hpp"

int main(int argc, char** argv) {
  using namespace evaclip::examples;
  return train_main<built_train::Blocks, built_train::Precisions>(argc, argv, "evaclip-train");
}
