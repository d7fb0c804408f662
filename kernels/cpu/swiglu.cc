// SwiGLU gate (CPU): out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)).
#include "cpu/swiglu.h"

#include <algorithm>
#include <cstdint>

#include "cpu/vec_math.h"

namespace ringlm::kernels::cpu {

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  // Blocks of 4096 elements across threads, a vectorised loop inside each.
  // out may alias gate: each element reads its own gate[i] before writing out[i].
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (blocks >= 16)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t end = std::min(n, (b + 1) * kBlock);
#pragma omp simd
    for (int64_t i = b * kBlock; i < end; ++i) {
      const float g = gate[i];
      // For g < -88.3, exp(-g) saturates at e^88.3 and silu is ~0 (|silu| < 1e-36);
      // for g > 87.3, exp(-g) is exactly 0 and silu(g) = g.
      out[i] = g / (1.f + exp_approx(-g)) * up[i];
    }
  }
}

}  // namespace ringlm::kernels::cpu
