// evaclip.hpp — the umbrella header: includes every public header of the library.
#pragma once

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/core/error.hpp"
#include "evaclip/core/half.hpp"
#include "evaclip/core/random.hpp"
#include "evaclip/core/shape.hpp"
#include "evaclip/core/tensor.hpp"
#include "evaclip/precision/loss_scale.hpp"
#include "evaclip/precision/policy.hpp"
#include "evaclip/precision/tolerance.hpp"
#include "evaclip/precision/unscale.hpp"
#include "evaclip/autograd/var.hpp"
#include "evaclip/autograd/tape.hpp"
#include "evaclip/autograd/checkpoint.hpp"
#include "evaclip/autograd/gradcheck.hpp"
#include "evaclip/ops/ops.hpp"
