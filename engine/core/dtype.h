// Element types of tensors, as stored in model files and in backend memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringlm {

enum class DType : uint8_t {
  kF32,
  kF16,
  kBF16,
  kQ8_0,  // blocks of 32: f16 scale + 32 x int8
  kQ4_0,  // blocks of 32: f16 scale + 16 bytes of nibbles (value - 8)
  kQ4_1,  // blocks of 32: f16 scale + f16 min + 16 bytes of nibbles
  kI32,
  // Appended (values of the older enumerators unchanged).
  kQ5_0,    // blocks of 32: f16 d + u32 high bits + 16 bytes of low nibbles (value - 16)
  kQ5_1,    // blocks of 32: f16 d + f16 min + u32 high bits + 16 bytes of low nibbles
  kQ2_K,    // super-blocks of 256 ("K-quants", ggml-common.h): 84 bytes
  kQ3_K,    // 110 bytes
  kQ4_K,    // 144 bytes
  kQ5_K,    // 176 bytes
  kQ6_K,    // 210 bytes
  kIQ4_NL,  // blocks of 32: f16 d + 16 bytes of 4-bit indices into a fixed table
  kIQ4_XS,  // super-blocks of 256: 136 bytes (IQ4_NL's table, 6-bit block scales)
};

// Elements per block (1 for plain types) and bytes per block.
int64_t dtype_block_elems(DType t);
int64_t dtype_block_bytes(DType t);
std::string_view dtype_name(DType t);

// Bytes needed for `n` elements; n must be a multiple of the block size
// (callers validate that first and report kCorruptData otherwise).
inline int64_t dtype_row_bytes(DType t, int64_t n) {
  return n / dtype_block_elems(t) * dtype_block_bytes(t);
}

}  // namespace ringlm
