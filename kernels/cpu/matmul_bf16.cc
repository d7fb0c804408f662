#include "cpu/matmul_bf16.h"

#include <cblas.h>

#include <algorithm>
#include <bit>

#include "cpu/simd_clones.h"

namespace ringlm::kernels::cpu {
namespace {

// W rows widened per sgemm call: about 1 MiB of f32 (wide enough panels for
// sgemm: 256 KiB blocks made 4K-token prefill up to a fifth slower),
// at least 16 rows.
int64_t block_rows(int64_t k) { return std::max<int64_t>(16, (int64_t(1) << 18) / std::max<int64_t>(k, 1)); }

inline float widen(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

// M rows of x against W rows [j0, j1), one pass over W: M accumulators per
// W row, the widening and FMAs vectorised along k. Inlined into the plain
// functions below, which carry the SIMD clones.
template <int M>
[[gnu::always_inline]] inline void direct_rows(const float* x, const uint16_t* w, int64_t k,
                                               int64_t j0, int64_t j1, float* y, int64_t ldy,
                                               float beta) {
  for (int64_t j = j0; j < j1; ++j) {
    const uint16_t* wr = w + j * k;
    float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
#pragma omp simd reduction(+ : a0, a1, a2, a3)
    for (int64_t c = 0; c < k; ++c) {
      const float wv = widen(wr[c]);
      a0 += wv * x[c];
      if constexpr (M > 1) a1 += wv * x[k + c];
      if constexpr (M > 2) a2 += wv * x[2 * k + c];
      if constexpr (M > 3) a3 += wv * x[3 * k + c];
    }
    const float acc[4] = {a0, a1, a2, a3};
    for (int i = 0; i < M; ++i) {
      float& out = y[i * ldy + j];
      out = beta == 0.f ? acc[i] : acc[i] + beta * out;
    }
  }
}

#define RINGLM_BF16_DIRECT(M)                                                                   \
  RINGLM_SIMD_CLONES void direct_##M(const float* x, const uint16_t* w, int64_t k, int64_t j0,   \
                                     int64_t j1, float* y, int64_t ldy, float beta) {            \
    direct_rows<M>(x, w, k, j0, j1, y, ldy, beta);                                               \
  }
RINGLM_BF16_DIRECT(1)
RINGLM_BF16_DIRECT(2)
RINGLM_BF16_DIRECT(3)
RINGLM_BF16_DIRECT(4)
#undef RINGLM_BF16_DIRECT

RINGLM_SIMD_CLONES void widen_rows(const uint16_t* src, float* dst, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dst[i] = widen(src[i]);
}

}  // namespace

int64_t matmul_bf16_scratch_floats(int64_t k) { return block_rows(k) * k; }

void matmul_bf16_rows(const float* x, int64_t m, const uint16_t* w, int64_t k, int64_t j0,
                      int64_t j1, float* y, int64_t ldy, float beta, float* scratch) {
  if (m <= 0 || j0 >= j1) return;
  if (m <= kMatmulBf16DirectRows) {
    switch (m) {
      case 1: return direct_1(x, w, k, j0, j1, y, ldy, beta);
      case 2: return direct_2(x, w, k, j0, j1, y, ldy, beta);
      case 3: return direct_3(x, w, k, j0, j1, y, ldy, beta);
      default: return direct_4(x, w, k, j0, j1, y, ldy, beta);
    }
  }
  const int64_t rows = block_rows(k);
  for (int64_t j = j0; j < j1; j += rows) {
    const int64_t r = std::min(rows, j1 - j);
    widen_rows(w + j * k, scratch, r * k);
    // y[m, j:j+r] = x[m, k] Wf[r, k]^T + beta y
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(r), int(k), 1.f, x, int(k),
                scratch, int(k), beta, y + j, int(ldy));
  }
}

}  // namespace ringlm::kernels::cpu
