// Element-wise additions: the residual add (y += x) and the GEMM bias
// (y[m, n] += bias[n]). CPU reference: the loops in CpuBackend::add / matmul.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ringlm::kernels::cuda {

// y[i] += x[i]   y, x: [n] f32 (may alias).
cudaError_t add(float* y, const float* x, int64_t n, cudaStream_t stream);

// y[i, j] += bias[j]   y: [m, n] f32, bias: [n] f32.
cudaError_t add_bias_rows(float* y, const float* bias, int64_t m, int64_t n, cudaStream_t stream);

}  // namespace ringlm::kernels::cuda
