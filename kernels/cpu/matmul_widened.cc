#include "cpu/matmul_widened.h"

#include <cblas.h>

#include <algorithm>

namespace ringlm::kernels::cpu {
namespace {

// W rows widened per sgemm call: about 1 MiB of f32 (wide enough panels for
// sgemm: 256 KiB blocks made 4K-token prefill up to a fifth slower), at
// least 16 rows.
int64_t block_rows(int64_t k) {
  return std::max<int64_t>(16, (int64_t(1) << 18) / std::max<int64_t>(k, 1));
}

}  // namespace

int64_t matmul_widened_scratch_floats(int64_t k) { return block_rows(k) * k; }

void matmul_widened_rows(const float* x, int64_t m, const void* w, WidenRows widen, int64_t k,
                         int64_t j0, int64_t j1, float* y, int64_t ldy, float beta,
                         float* scratch) {
  const int64_t rows = block_rows(k);
  for (int64_t j = j0; j < j1; j += rows) {
    const int64_t r = std::min(rows, j1 - j);
    widen(w, k, j, r, scratch);
    // y[m, j:j+r] = x[m, k] Wf[r, k]^T + beta y
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(r), int(k), 1.f, x, int(k),
                scratch, int(k), beta, y + j, int(ldy));
  }
}

}  // namespace ringlm::kernels::cpu
