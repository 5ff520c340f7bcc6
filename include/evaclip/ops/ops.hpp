// ops.hpp — includes every differentiable op (each header: the tape op; its kernels live in ops/cpu/ and
// ops/cuda/, the latter included by evaclip/cuda.cuh).
#pragma once

#include "evaclip/ops/activations.hpp"
#include "evaclip/ops/add_layernorm.hpp"
#include "evaclip/ops/attention.hpp"
#include "evaclip/ops/cross_entropy.hpp"
#include "evaclip/ops/elementwise.hpp"
#include "evaclip/ops/drop_path.hpp"
#include "evaclip/ops/embedding.hpp"
#include "evaclip/ops/exp_clamp.hpp"
#include "evaclip/ops/gather_rows.hpp"
#include "evaclip/ops/l2_normalize.hpp"
#include "evaclip/ops/layernorm.hpp"
#include "evaclip/ops/layout.hpp"
#include "evaclip/ops/linear.hpp"
#include "evaclip/ops/matmul.hpp"
#include "evaclip/ops/patch_embed.hpp"
#include "evaclip/ops/rope.hpp"
#include "evaclip/ops/rope_attention.hpp"
#include "evaclip/ops/softmax.hpp"
#include "evaclip/ops/swiglu_layernorm.hpp"
