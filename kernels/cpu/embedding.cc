// Token embedding lookup (CPU): out[i, :] = table[ids[i], :].
#include "cpu/embedding.h"

#include <cstring>

namespace ringlm::kernels::cpu {

void embedding(const float* table, const int32_t* ids, float* out, int64_t n, int64_t dim) {
  // Pure copies: threads only help once there is real memory traffic.
#pragma omp parallel for schedule(static) if (n * dim >= (int64_t(1) << 18))
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(out + i * dim, table + int64_t(ids[i]) * dim, sizeof(float) * size_t(dim));
  }
}

}  // namespace ringlm::kernels::cpu
