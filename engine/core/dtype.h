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
