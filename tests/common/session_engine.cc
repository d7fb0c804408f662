#include "session_engine.h"

#include <catch2/catch.hpp>
#include <algorithm>
#include <cerrno>  // program_invocation_short_name (glibc)
#include <cmath>
#include <cstdlib>
#include <map>

#include "test_util.h"
#include "tiny_model.h"

namespace ringlm::test {

std::string session_model_path(uint32_t seed) {
  static std::map<uint32_t, std::string> paths;
  auto it = paths.find(seed);
  if (it != paths.end()) return it->second;
  TinyModelSpec spec;
  spec.seed = seed;
  spec.context = 512;
  // One directory per test program: ctest runs several of them at once, and
  // temp_dir() empties its directory first.
  std::string dir = "session_model_";
  dir += program_invocation_short_name;
  dir += '_';
  dir += std::to_string(seed);
  const std::string p = temp_dir(dir) + "/tiny.gguf";
  write_tiny_model(p, spec);
  return paths[seed] = p;
}

std::string session_test_backend() {
  const char* b = std::getenv("RINGLM_TEST_BACKEND");
  return b && *b ? b : "cpu";
}

double logit_tolerance() { return session_test_backend() == "cpu" ? 1e-5 : 2e-2; }

bool logits_close(const std::vector<float>& got, const std::vector<float>& want) {
  double scale = 0;
  for (float x : want) scale = std::max(scale, double(std::abs(x)));
  const double diff = max_abs_diff(got, want);
  UNSCOPED_INFO("max |logit difference| " << diff << ", max |logit| " << scale);
  return diff <= logit_tolerance() * scale;
}

std::unique_ptr<Engine> make_session_engine(int n, size_t kv_budget, uint32_t seed, KvCacheType kv,
                                            size_t kv_piece, int64_t share_prefix_min_tokens) {
  EngineOptions o;
  o.share_prefix_min_tokens = share_prefix_min_tokens;
  o.kv_piece_bytes = kv_piece;
  o.kv_cache_type = kv;
  o.backend = session_test_backend();
  o.model_path = session_model_path(seed);
  o.world_size = n;
  o.threads_per_rank = 1;
  o.kv_page_tokens = 16;
  o.kv_budget_bytes = kv_budget;
  o.prefill_chunk = 8;  // several prefill steps per turn: cancel points
  o.attn_flops = 1e9;
  o.link_bytes_per_s = 1e9;
  auto e = Engine::Create(o);
  INFO(e.status().ToString());
  REQUIRE(e.ok());
  return std::move(e).value();
}

std::vector<int32_t> salted_ids(int n, int salt) {
  std::vector<int32_t> v(n);
  for (int i = 0; i < n; ++i) v[i] = (i * 37 + salt * 11) % 200;
  return v;
}

TurnResult raw_turn(Engine& e, SessionId s, const std::vector<int32_t>& t, int max_tokens) {
  GenerateOptions g;
  g.max_tokens = max_tokens;
  g.want_prompt_logits = true;
  auto r = e.generate(s, t, g);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return r.value();
}

TurnResult chat_turn(Engine& e, SessionId s, const std::string& user, int max_tokens) {
  GenerateOptions g;
  g.max_tokens = max_tokens;
  const std::vector<ChatMessage> m{{"user", user}};
  auto r = e.chat(s, m, g);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return r.value();
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
  return m;
}

}  // namespace ringlm::test
