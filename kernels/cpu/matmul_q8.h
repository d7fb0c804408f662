// y = x W^T with W held as 8-bit integers, one f32 scale per 32 weights of a
// row (Q8_0's scheme, in the CPU backend's own layout): about 1.1 bytes per
// weight against 2 for bf16 and 4 for f32, so a decode step streams a
// quarter of f32's bytes. Rounding to it moves each weight by at most half
// of its block's largest magnitude / 127.
//
// Layout of a [n, k] weight: q [n, kp] int8 with kp = k rounded up to 32
// (zeros past k), d [n, kp / 32] f32. As in matmul_bf16.h, up to
// kMatmulDirectRows rows of x go through one pass over W; more rows through
// matmul_widened.h (widened blocks and sgemm).
#pragma once

#include <cstdint>

#include "cpu/matmul_widened.h"

namespace ringlm::kernels::cpu {

inline constexpr int64_t kQ8Block = 32;

inline int64_t q8_padded_cols(int64_t k) { return (k + kQ8Block - 1) / kQ8Block * kQ8Block; }

// Rounds rows [0, n) of w [n, k] f32 into q and d (layout above): per block,
// d = max |w| / 127 and q = round(w / d).
void quantize_q8_rows(const float* w, int64_t n, int64_t k, int8_t* q, float* d);

// Row r of the weight as f32 (k values) into out.
void widen_q8_row(const int8_t* q, const float* d, int64_t k, int64_t r, float* out);

// y[i, j] = sum_c x[i, c] W[j, c] + beta * y[i, j] for i < m, j in [j0, j1);
// x [m, k] with leading dimension k; y with leading dimension ldy; beta 0
// overwrites y. scratch: matmul_widened_scratch_floats(k) floats when m >
// kMatmulDirectRows. Single-threaded: callers split [0, n) between threads.
void matmul_q8_rows(const float* x, int64_t m, const int8_t* q, const float* d, int64_t k,
                    int64_t j0, int64_t j1, float* y, int64_t ldy, float beta, float* scratch);

}  // namespace ringlm::kernels::cpu
