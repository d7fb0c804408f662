// Rotary position embedding, both pair layouts. CPU reference:
// kernels/cpu/rope.h (same definition). The inverse frequencies (with any
// linear / Llama 3 / per-frequency scaling already folded in) come from
// kernels::cpu::rope_inv_freq(cfg), computed on the host and uploaded once.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "rope_params.h"

namespace ringlm::kernels::cuda {

// Rotates x in place. x: [rows, heads, cfg.head_dim] f32; pos: [rows] global
// positions (device); inv_freq: [cfg.rot_dim / 2] f32 (device). For pair i with
// angle a = pos * inv_freq[i]:
//   neox == false: (x[2i], x[2i+1]);  neox == true: (x[i], x[i + rot_dim/2])
//   (x0, x1) <- (x0 cos a - x1 sin a, x0 sin a + x1 cos a)
// Dimensions at or beyond rot_dim are left unchanged.
cudaError_t rope(float* x, const int32_t* pos, int64_t rows, int heads, const RopeConfig& cfg,
                 const float* inv_freq, cudaStream_t stream);

}  // namespace ringlm::kernels::cuda
