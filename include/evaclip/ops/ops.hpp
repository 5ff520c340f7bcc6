// ops.hpp — includes every differentiable op (each header: the tape op; its kernels live in ops/cpu/).
#pragma once

#include "evaclip/ops/layernorm.hpp"
