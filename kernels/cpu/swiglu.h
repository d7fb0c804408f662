#pragma once

#include <cstdint>

namespace ringlm::kernels::cpu {

// out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)); out may alias gate.
void swiglu(const float* gate, const float* up, float* out, int64_t n);

}  // namespace ringlm::kernels::cpu
