// RMSNorm. CPU reference: kernels/cpu/rmsnorm.h (same definition).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ringlm::kernels::cuda {

// y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w[:]
// x, y: [rows, dim] f32 (y may alias x); w: [dim] f32.
cudaError_t rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps,
                    cudaStream_t stream);

}  // namespace ringlm::kernels::cuda
