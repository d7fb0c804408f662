#include "cpu/matmul_q8.h"

#include <algorithm>
#include <cmath>

#include "cpu/simd_clones.h"

namespace ringlm::kernels::cpu {
namespace {

// M rows of x against W rows [j0, j1) in one pass over W. Each block's 32
// products accumulate lane-wise (acc[i][c]) and are summed once per row, so
// the loop over a block vectorises without a reduction per block.
template <int M>
[[gnu::always_inline]] inline void direct_rows(const float* x, const int8_t* q, const float* d,
                                               int64_t k, int64_t j0, int64_t j1, float* y,
                                               int64_t ldy, float beta) {
  const int64_t kp = q8_padded_cols(k), nb = kp / kQ8Block, full = k / kQ8Block;
  for (int64_t j = j0; j < j1; ++j) {
    const int8_t* qr = q + j * kp;
    const float* dr = d + j * nb;
    float acc[M][kQ8Block] = {};
    for (int64_t b = 0; b < full; ++b) {
      const float db = dr[b];
      const int8_t* qb = qr + b * kQ8Block;
      const float* xb = x + b * kQ8Block;
#pragma omp simd
      for (int c = 0; c < kQ8Block; ++c) {
        const float w = db * float(qb[c]);
        for (int i = 0; i < M; ++i) acc[i][c] += w * xb[i * k + c];
      }
    }
    for (int64_t c = full * kQ8Block; c < k; ++c) {  // a last, partial block
      const float w = dr[full] * float(qr[c]);
      for (int i = 0; i < M; ++i) acc[i][c % kQ8Block] += w * x[i * k + c];
    }
    for (int i = 0; i < M; ++i) {
      float s = 0.f;
      for (int c = 0; c < kQ8Block; ++c) s += acc[i][c];
      float& out = y[i * ldy + j];
      out = beta == 0.f ? s : s + beta * out;
    }
  }
}

#define RINGLM_Q8_DIRECT(M)                                                                    \
  RINGLM_SIMD_CLONES void direct_##M(const float* x, const int8_t* q, const float* d, int64_t k, \
                                     int64_t j0, int64_t j1, float* y, int64_t ldy,             \
                                     float beta) {                                             \
    direct_rows<M>(x, q, d, k, j0, j1, y, ldy, beta);                                          \
  }
RINGLM_Q8_DIRECT(1)
RINGLM_Q8_DIRECT(2)
RINGLM_Q8_DIRECT(3)
RINGLM_Q8_DIRECT(4)
#undef RINGLM_Q8_DIRECT

}  // namespace

void quantize_q8_rows(const float* w, int64_t n, int64_t k, int8_t* q, float* d) {
  const int64_t kp = q8_padded_cols(k), nb = kp / kQ8Block;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t c0 = b * kQ8Block, c1 = std::min(k, c0 + kQ8Block);
      float amax = 0.f;
      for (int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(w[r * k + c]));
      const float db = amax / 127.f;
      const float id = db != 0.f ? 1.f / db : 0.f;
      d[r * nb + b] = db;
      int8_t* qb = q + r * kp + c0;
      for (int64_t c = c0; c < c0 + kQ8Block; ++c)
        qb[c - c0] = c < c1 ? int8_t(std::lrintf(w[r * k + c] * id)) : int8_t(0);
    }
  }
}

RINGLM_SIMD_CLONES void widen_q8_row(const int8_t* q, const float* d, int64_t k, int64_t r,
                                     float* out) {
  const int64_t kp = q8_padded_cols(k), nb = kp / kQ8Block;
  for (int64_t b = 0; b < nb; ++b) {
    const float db = d[r * nb + b];
    const int8_t* qb = q + r * kp + b * kQ8Block;
    const int64_t n = std::min<int64_t>(kQ8Block, k - b * kQ8Block);
    float* ob = out + b * kQ8Block;
#pragma omp simd
    for (int64_t c = 0; c < n; ++c) ob[c] = db * float(qb[c]);
  }
}

void matmul_q8_rows(const float* x, int64_t m, const int8_t* q, const float* d, int64_t k,
                    int64_t j0, int64_t j1, float* y, int64_t ldy, float beta, float* scratch) {
  if (m <= 0 || j0 >= j1) return;
  if (m <= kMatmulDirectRows) {
    switch (m) {
      case 1: return direct_1(x, q, d, k, j0, j1, y, ldy, beta);
      case 2: return direct_2(x, q, d, k, j0, j1, y, ldy, beta);
      case 3: return direct_3(x, q, d, k, j0, j1, y, ldy, beta);
      default: return direct_4(x, q, d, k, j0, j1, y, ldy, beta);
    }
  }
  struct Q8 {
    const int8_t* q;
    const float* d;
  } const weight{q, d};
  const auto widen = [](const void* w, int64_t k, int64_t j, int64_t rows, float* out) {
    const auto& [wq, wd] = *static_cast<const Q8*>(w);
    for (int64_t i = 0; i < rows; ++i) widen_q8_row(wq, wd, k, j + i, out + i * k);
  };
  matmul_widened_rows(x, m, &weight, widen, k, j0, j1, y, ldy, beta, scratch);
}

}  // namespace ringlm::kernels::cpu
