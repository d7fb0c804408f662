#include "cpu/matmul_bf16.h"

#include <bit>

#include "cpu/simd_clones.h"

namespace ringlm::kernels::cpu {
namespace {

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

void matmul_bf16_rows(const float* x, int64_t m, const uint16_t* w, int64_t k, int64_t j0,
                      int64_t j1, float* y, int64_t ldy, float beta, float* scratch) {
  if (m <= 0 || j0 >= j1) return;
  if (m <= kMatmulDirectRows) {
    switch (m) {
      case 1: return direct_1(x, w, k, j0, j1, y, ldy, beta);
      case 2: return direct_2(x, w, k, j0, j1, y, ldy, beta);
      case 3: return direct_3(x, w, k, j0, j1, y, ldy, beta);
      default: return direct_4(x, w, k, j0, j1, y, ldy, beta);
    }
  }
  const auto widen = [](const void* w, int64_t k, int64_t j, int64_t rows, float* out) {
    widen_rows(static_cast<const uint16_t*>(w) + j * k, out, rows * k);
  };
  matmul_widened_rows(x, m, w, widen, k, j0, j1, y, ldy, beta, scratch);
}

}  // namespace ringlm::kernels::cpu
