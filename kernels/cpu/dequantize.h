// Dequantization of GGUF tensor data to f32 (GGML block layouts, little endian).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ringlm::kernels::cpu {

// Converts `n` elements of type `t` at `src` to f32 at `dst`. n must be a
// multiple of dtype_block_elems(t) (checked by the caller). kI32 is not a
// float type and is not accepted (returns false); all others return true.
bool dequantize(ringlm::DType t, const void* src, float* dst, int64_t n);

float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);

}  // namespace ringlm::kernels::cpu
