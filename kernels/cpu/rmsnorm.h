#pragma once

#include <cstdint>

namespace ringlm::kernels::cpu {

// y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w[:]   x, y: [rows, dim]; y may alias x.
void rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps);

}  // namespace ringlm::kernels::cpu
