// f32 <-> bf16 arrays (the bf16 KV cache). bf16 is the upper half of an
// IEEE f32: f32 -> bf16 rounds to nearest, ties to even (NaN stays a quiet
// NaN); bf16 -> f32 is exact.
#pragma once

#include <cstdint>

namespace ringlm::kernels::cpu {

void f32_to_bf16(const float* src, uint16_t* dst, int64_t n);
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n);

}  // namespace ringlm::kernels::cpu
