// 2-D transpose of f32 matrices: y [cols, rows] = x [rows, cols]^T.
// Used to turn cuDNN's head-major attention statistics [heads, tokens] into
// the token-major LSE layout [tokens, heads] of kernels/attention_params.h.
// CPU reference: the plain double loop (tests/gpu).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ringlm::kernels::cuda {

// y[c * rows + r] = x[r * cols + c]; x and y must not overlap.
cudaError_t transpose_f32(const float* x, float* y, int64_t rows, int64_t cols,
                          cudaStream_t stream);

}  // namespace ringlm::kernels::cuda
