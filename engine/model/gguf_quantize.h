// f32 -> GGUF tensor encodings, as ggml's reference (non-SIMD) quantizers do
// it, so that files written here match files written by ggml/gguf-py.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/dtype.h"

namespace ringlm {

// Encodes `src` (n elements; n a multiple of dtype_block_elems(t)) as type `t`
// into dtype_row_bytes(t, n) bytes at `dst`. Supports kF32, kF16, kBF16
// (round to nearest even), kQ8_0, kQ4_0, kQ4_1 (ggml's round-to-nearest
// reference quantizers). Returns false for kI32 or a bad n.
bool quantize(DType t, const float* src, void* dst, int64_t n);

// Convenience: the encoded bytes of `src`, empty on failure.
std::vector<uint8_t> quantize(DType t, std::span<const float> src);

}  // namespace ringlm
