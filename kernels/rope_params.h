// Rotary position embedding configuration, read from model metadata.
#pragma once

#include <cstdint>

namespace ringlm::kernels {

enum class RopeScaling : uint8_t {
  kNone,
  kLinear,  // positions divided by `factor`
  kLlama3,  // Llama 3.1 frequency-dependent scaling (factor, low/high_freq_factor, original_context)
};

struct RopeConfig {
  int head_dim = 0;      // d
  int rot_dim = 0;       // rotated dimensions (<= head_dim), usually head_dim
  float theta = 10000.f; // freq_base
  bool neox = false;     // false: rotate pairs (2i, 2i+1) (GGUF llama); true: (i, i + rot_dim/2) (Qwen2)
  RopeScaling scaling = RopeScaling::kNone;
  float factor = 1.f;
  float low_freq_factor = 1.f;
  float high_freq_factor = 4.f;
  int original_context = 8192;
  // Optional per-frequency divisors [rot_dim / 2] (GGUF tensor rope_freqs.weight,
  // how Llama 3.1 files carry their scaling); host memory owned by the model.
  const float* freq_factors = nullptr;
};

}  // namespace ringlm::kernels
