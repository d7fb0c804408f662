// Shared helpers for the Catch2 tests.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

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

// A fresh empty directory under the build tree for one test's files.
std::string temp_dir(const std::string& name);

}  // namespace ringlm::test
