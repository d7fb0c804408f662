// f32 -> GGUF tensor encodings. For the types ggml has a plain reference
// quantizer for, as it does it (files written here match files written by
// ggml/gguf-py); the others (gguf_quantize_blocks.h) write valid blocks of a
// simpler choice of scales.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/dtype.h"

namespace ringlm {

// Encodes `src` (n elements; n a multiple of dtype_block_elems(t)) as type `t`
// into dtype_row_bytes(t, n) bytes at `dst`. kF32, kF16, kBF16 (round to
// nearest even), kQ8_0, kQ4_0, kQ4_1, kQ5_0, kQ5_1 (ggml's round-to-nearest
// reference quantizers); the K-quants, IQ4_NL and IQ4_XS with the simpler
// encoders of gguf_quantize_blocks.h. Returns false for kI32 or a bad n.
bool quantize(DType t, const float* src, void* dst, int64_t n);

// Convenience: the encoded bytes of `src`, empty on failure.
std::vector<uint8_t> quantize(DType t, std::span<const float> src);

}  // namespace ringlm
