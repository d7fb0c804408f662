// y = x W^T with W held in bf16 (the CPU backend's bf16 weights): half the
// memory of f32 weights and half the bytes a decode step streams.
//
// For up to kMatmulDirectRows rows of x, W's rows are widened in registers
// and dotted with every row of x in one pass over W (the GEMV of decode);
// more rows go through matmul_widened.h (widened blocks and sgemm). The
// products are those of f32 arithmetic on the bf16 values, so results equal
// an f32 matmul over the rounded weights up to the order of the sums.
#pragma once

#include <cstdint>

#include "cpu/matmul_widened.h"

namespace ringlm::kernels::cpu {

// y[i, j] = sum_c x[i, c] W[j, c] + beta * y[i, j] for i < m and j in
// [j0, j1): W [n, k] bf16 bits, row-major; x [m, k] with leading dimension k;
// y with leading dimension ldy. beta 0 overwrites y (whatever it held).
// scratch: matmul_widened_scratch_floats(k) floats when m > kMatmulDirectRows.
// Single-threaded: callers split [0, n) between their threads.
void matmul_bf16_rows(const float* x, int64_t m, const uint16_t* w, int64_t k, int64_t j0,
                      int64_t j1, float* y, int64_t ldy, float beta, float* scratch);

}  // namespace ringlm::kernels::cpu
