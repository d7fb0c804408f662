// RMS normalisation (CPU): y = x / sqrt(mean(x^2) + eps) * w.
//
// The sum of squares is accumulated in double: over a few thousand elements of
// widely varying magnitude a float sum loses digits that the normalised output
// would then carry into every layer.
#include "cpu/rmsnorm.h"

#include <cmath>

namespace ringlm::kernels::cpu {

void rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps) {
#pragma omp parallel for schedule(static) if (rows * dim >= (int64_t(1) << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;  // [dim]
    float* yr = y + r * dim;        // [dim], may be xr
    double ss = 0.0;
#pragma omp simd reduction(+ : ss)
    for (int64_t c = 0; c < dim; ++c) ss += double(xr[c]) * double(xr[c]);
    const float scale = float(1.0 / std::sqrt(ss / double(dim) + double(eps)));
    // Every y[c] depends only on x[c] (and the finished sum): aliasing is safe.
#pragma omp simd
    for (int64_t c = 0; c < dim; ++c) yr[c] = (xr[c] * scale) * w[c];
  }
}

}  // namespace ringlm::kernels::cpu
