#include "test_util.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

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
