// The part of the CPU GEMM over compact weights (bf16: matmul_bf16.h;
// 8-bit: matmul_q8.h) that does not depend on their format: above
// kMatmulDirectRows rows of x, W's rows are widened to f32 a block of about
// 1 MiB at a time into a scratch buffer and multiplied by BLAS sgemm, so that
// prefill keeps sgemm's speed for a widening cost of one pass over W per
// call. Up to kMatmulDirectRows rows, each format's own kernel makes one pass
// over W instead (decode).
#pragma once

#include <cstdint>

namespace ringlm::kernels::cpu {

inline constexpr int64_t kMatmulDirectRows = 4;

// Floats of scratch matmul_widened_rows needs for rows of k elements.
int64_t matmul_widened_scratch_floats(int64_t k);

// Writes rows [j, j + rows) of the weight `w` (k columns), widened to f32,
// to out [rows, k].
using WidenRows = void (*)(const void* w, int64_t k, int64_t j, int64_t rows, float* out);

// y[i, c] = sum x[i, :] W[c, :] + beta * y[i, c] for i < m, c in [j0, j1):
// x [m, k] with leading dimension k, y with leading dimension ldy; beta 0
// overwrites y. Single-threaded.
void matmul_widened_rows(const float* x, int64_t m, const void* w, WidenRows widen, int64_t k,
                         int64_t j0, int64_t j1, float* y, int64_t ldy, float beta,
                         float* scratch);

}  // namespace ringlm::kernels::cpu
