// SwiGLU gate. CPU reference: kernels/cpu/swiglu.h (same definition).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ringlm::kernels::cuda {

// out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)); out may alias gate or up.
cudaError_t swiglu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream);

// out[i] = bf16(silu(gate[i]) * up[i]) (round to nearest even): the same
// value swiglu() gives, rounded as the GEMM input conversion would round it.
cudaError_t swiglu_bf16(const float* gate, const float* up, uint16_t* out, int64_t n,
                        cudaStream_t stream);

}  // namespace ringlm::kernels::cuda
