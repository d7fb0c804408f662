// y[i] = value. CPU reference: CpuBackend::fill.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ringlm::kernels::cuda {

cudaError_t fill(float* y, float value, int64_t n, cudaStream_t stream);

}  // namespace ringlm::kernels::cuda
