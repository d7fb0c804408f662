#pragma once

#include <cstdint>
#include <vector>

#include "rope_params.h"

namespace ringlm::kernels::cpu {

// Inverse frequencies [rot_dim / 2] after the configured scaling (Llama 3 scaling
// adjusts frequencies; linear scaling is folded in as 1/factor).
std::vector<float> rope_inv_freq(const RopeConfig& cfg);

// Rotates x in place: x [rows, heads, head_dim]; pos [rows] global positions.
// inv_freq from rope_inv_freq(cfg).
void rope(float* x, const int32_t* pos, int64_t rows, int heads, const RopeConfig& cfg,
          const float* inv_freq);

}  // namespace ringlm::kernels::cpu
