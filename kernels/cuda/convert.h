// f32 <-> bf16 conversions (round to nearest even), the CUDA backend's bridge
// between f32 activations and bf16 GEMM / attention inputs.
// CPU reference: kernels/cpu/dequantize.h (fp32_to_bf16 / bf16_to_fp32).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ringlm::kernels::cuda {

// y[i] = bf16(x[i])   x: [n] f32, y: [n] bf16 bits.
cudaError_t f32_to_bf16(const float* x, uint16_t* y, int64_t n, cudaStream_t stream);

// y[i] = f32(x[i])    x: [n] bf16 bits, y: [n] f32.
cudaError_t bf16_to_f32(const uint16_t* x, float* y, int64_t n, cudaStream_t stream);

// Row-masked conversion for attention inputs: x, y [rows, row_elems];
// row r is converted when pos[r] >= 0 and written as zeros otherwise, so
// padding rows (which may hold any bits, NaN included) reach the attention
// kernel as finite values. Vectorised when row_elems % 4 == 0 and the
// pointers are aligned (x: 16 bytes, y: 8 bytes); element-wise otherwise.
cudaError_t f32_to_bf16_masked_rows(const float* x, const int32_t* pos, uint16_t* y, int64_t rows,
                                    int64_t row_elems, cudaStream_t stream);

// The same masking for bf16 rows (a bf16 KV cache): y = x with rows whose
// pos < 0 zeroed. 16 bytes at a time when row_elems % 8 == 0 and both
// pointers are 16-byte aligned.
cudaError_t bf16_masked_rows(const uint16_t* x, const int32_t* pos, uint16_t* y, int64_t rows,
                             int64_t row_elems, cudaStream_t stream);

}  // namespace ringlm::kernels::cuda
