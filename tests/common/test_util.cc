#include "test_util.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "cpu/convert.h"
#include "cpu/dequantize.h"

namespace ringlm::test {

std::string model_path() {
  std::string p;
  if (const char* env = std::getenv("RINGLM_MODEL"); env && *env) {
    p = env;
  } else {
    const char* home = std::getenv("HOME");
    p = std::string(home ? home : ".") + "/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  }
  INFO("default model missing at " << p << " (run scripts/fetch_model.sh)");
  REQUIRE(std::filesystem::exists(p));
  return p;
}

Deviation deviation(const std::vector<float>& got, const std::vector<float>& ref) {
  REQUIRE(got.size() == ref.size());
  Deviation d;
  for (size_t i = 0; i < ref.size(); ++i) {
    d.max_ref = std::max(d.max_ref, std::abs(double(ref[i])));
    d.max_diff = std::max(d.max_diff, std::abs(double(got[i]) - ref[i]));
  }
  return d;
}

std::vector<uint16_t> to_bf16(const std::vector<float>& x) {
  std::vector<uint16_t> y(x.size());
  kernels::cpu::f32_to_bf16(x.data(), y.data(), int64_t(x.size()));
  return y;
}

float kv_stored(float x, kernels::KvType t) {
  return t == kernels::KvType::kF32 ? x : kernels::cpu::bf16_to_fp32(kernels::cpu::fp32_to_bf16(x));
}

std::string source_dir() {
  const char* s = std::getenv("RINGLM_SOURCE_DIR");
  return s ? s : ".";
}

std::string binary_dir() {
  const char* s = std::getenv("RINGLM_BINARY_DIR");
  return s ? s : ".";
}

std::vector<float> random_floats(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<std::pair<int64_t, int64_t>> random_cuts(int64_t total, int64_t max_piece,
                                                     uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::pair<int64_t, int64_t>> cuts;
  for (int64_t at = 0; at < total;) {
    const int64_t n = std::min<int64_t>(total - at, int64_t(rng() % uint32_t(max_piece + 1)));
    cuts.push_back({at, n});
    at += n;
  }
  return cuts;
}

std::string temp_dir(const std::string& name) {
  namespace fs = std::filesystem;
  fs::path d = fs::path(binary_dir()) / "test_tmp" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

}  // namespace ringlm::test
