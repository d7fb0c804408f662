// Shared helpers for the Catch2 tests.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "attention_params.h"

namespace ringlm::test {

// Path of the default model: $RINGLM_MODEL, else
// ~/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf. Fails the current
// test (REQUIRE) when the file is absent: run scripts/fetch_model.sh first.
std::string model_path();

// Source / build directories as passed by ctest (fall back to "." ).
std::string source_dir();
std::string binary_dir();

// Deterministic uniform floats in [lo, hi).
std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f);

// [0, total) cut in order into (offset, length) pieces of 0..max_piece
// elements each (zero-length pieces included), deterministic in `seed`:
// key ranges cut into KV blocks for the attention-over-blocks tests.
std::vector<std::pair<int64_t, int64_t>> random_cuts(int64_t total, int64_t max_piece,
                                                     uint32_t seed);

// How far `got` is from `ref` (same size, checked): max |ref| and max
// |got - ref|, for logit comparisons relative to the logits' range.
struct Deviation {
  double max_ref = 0, max_diff = 0;
};
Deviation deviation(const std::vector<float>& got, const std::vector<float>& ref);

// K/V as a cache of element type t holds them: bf16 bits of each value
// (round to nearest even), and a value as stored (f32: x; bf16: rounded).
std::vector<uint16_t> to_bf16(const std::vector<float>& x);
float kv_stored(float x, kernels::KvType t);

// A fresh empty directory under the build tree for one test's files.
std::string temp_dir(const std::string& name);

}  // namespace ringlm::test
