// CP is lossless through the whole engine: for N in {2, 3, 4} rank threads and
// both ring variants, logits equal the N = 1 logits for full prefill, partial
// (multi-turn) prefill and after decode steps, for lengths that are not
// multiples of 2N (T < 2N and T = 1 included); greedy tokens are identical.
// Tiny random-weight models (GQA 4/2, 6/2, 4/4; llama and qwen2 layouts).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>

#include "runtime/engine.h"
#include "test_util.h"
#include "tiny_model.h"

using namespace ringlm;

namespace {

// RINGLM_TEST_BACKEND=cuda reruns the suite on the CUDA backend (N ranks on
// one GPU, ring over Gloo through host memory).
std::string test_backend() {
  const char* b = std::getenv("RINGLM_TEST_BACKEND");
  return b && *b ? b : "cpu";
}

std::unique_ptr<Engine> make_engine(const std::string& path, int n, CpVariant v,
                                    KvCacheType kv = KvCacheType::kAuto,
                                    WeightType w = WeightType::kAuto) {
  EngineOptions o;
  o.kv_cache_type = kv;
  o.weight_type = w;
  o.backend = test_backend();
  o.model_path = path;
  o.world_size = n;
  o.threads_per_rank = 1;
  o.variant = v;
  o.kv_page_tokens = 16;  // many pages: spans and padding get exercised
  o.prefill_chunk = 1000;
  o.comm_timeout = std::chrono::milliseconds(20000);
  o.attn_flops = 1e9;  // fixed calibration: tests need no measurement
  o.link_bytes_per_s = 1e9;
  auto e = Engine::Create(o);
  INFO(e.status().ToString());
  REQUIRE(e.ok());
  return std::move(e).value();
}

struct Transcript {
  std::vector<std::vector<float>> logits;  // prompt logits per turn
  std::vector<std::vector<int32_t>> tokens;  // greedy tokens per turn
};

// Three turns of raw tokens of the given lengths, each followed by `decode` greedy tokens.
Transcript run_turns(Engine& e, const std::vector<int>& lengths, int decode, int vocab) {
  Transcript t;
  auto sid = e.open_session();
  REQUIRE(sid.ok());
  std::mt19937 rng(123);
  for (int len : lengths) {
    std::vector<int32_t> ids(len);
    for (auto& x : ids) x = int32_t(rng() % 200);  // byte tokens: never end-of-generation
    GenerateOptions g;
    g.max_tokens = decode;
    g.want_prompt_logits = true;
    auto r = e.generate(sid.value(), ids, g);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    REQUIRE(int(r->prompt_logits.size()) == vocab);
    t.logits.push_back(r->prompt_logits);
    t.tokens.push_back(r->tokens);
  }
  return t;
}

double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float x : a) m = std::max(m, std::abs(double(x)));
  return m;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(double(a[i]) - b[i]);
    if (std::isnan(d)) return INFINITY;  // std::max would skip it
    m = std::max(m, d);
  }
  return m;
}

}  // namespace

TEST_CASE("CP logits equal N = 1 logits on tiny models", "[cp]") {
  const auto arch_heads = GENERATE(std::make_tuple(std::string("llama"), 4, 2),
                                   std::make_tuple(std::string("llama"), 6, 2),
                                   std::make_tuple(std::string("qwen2"), 4, 4));
  test::TinyModelSpec spec;
  spec.arch = std::get<0>(arch_heads);
  spec.heads = std::get<1>(arch_heads);
  spec.kv_heads = std::get<2>(arch_heads);
  spec.dim = 16 * spec.heads;
  const std::string path = test::temp_dir("cp_engine_" + spec.arch + std::to_string(spec.heads)) + "/tiny.gguf";
  test::write_tiny_model(path, spec);

  // Turn lengths: not multiples of 2N, T < 2N, T = 1.
  const std::vector<int> lengths{37, 1, 5, 130};
  const int decode = 6;
  auto ref_engine = make_engine(path, 1, CpVariant::kAuto);
  const int vocab = ref_engine->info().model.vocab;
  const Transcript ref = run_turns(*ref_engine, lengths, decode, vocab);
  ref_engine.reset();

  const int n = GENERATE(2, 3, 4);
  const CpVariant v = GENERATE(CpVariant::kPassKV, CpVariant::kPassQ);
  SECTION("N ranks") {
    auto e = make_engine(path, n, v);
    const Transcript got = run_turns(*e, lengths, decode, vocab);
    for (size_t turn = 0; turn < lengths.size(); ++turn) {
      INFO("N=" << n << " variant=" << cp_variant_name(v) << " turn " << turn << " T=" << lengths[turn]);
      // f32 rounding differs with merge order and GEMM batch shapes only:
      // 5e-5 of the largest logit (the logits here reach about 10-30). On
      // CUDA the GEMMs round activations to bf16: 2e-2.
      const double tol = test_backend() == "cpu" ? 5e-5 : 2e-2;
      const double scale = max_abs(ref.logits[turn]);
      INFO("max |logit| " << scale);
      CHECK(max_abs_diff(got.logits[turn], ref.logits[turn]) <= tol * scale);
      CHECK(got.tokens[turn] == ref.tokens[turn]);
    }
  }
}

TEST_CASE("CP over a bf16 KV cache equals N = 1 over a bf16 KV cache", "[cp]") {
  test::TinyModelSpec spec;
  spec.heads = 4;
  spec.kv_heads = 2;
  spec.dim = 64;
  const std::string path = test::temp_dir("cp_engine_bf16") + "/tiny.gguf";
  test::write_tiny_model(path, spec);
  const std::vector<int> lengths{37, 1, 130};
  const int decode = 6;
  auto ref_engine = make_engine(path, 1, CpVariant::kAuto, KvCacheType::kBF16);
  REQUIRE(ref_engine->info().kv_type == kernels::KvType::kBF16);
  const int vocab = ref_engine->info().model.vocab;
  const Transcript ref = run_turns(*ref_engine, lengths, decode, vocab);
  ref_engine.reset();
  {
    // The bf16 cache rounds K and V only: the first turn's logits stay near
    // the f32 cache's. (Later turns follow the greedy tokens, which may part
    // on near ties, so they are not compared across element types.)
    auto f32_engine = make_engine(path, 1, CpVariant::kAuto, KvCacheType::kF32);
    REQUIRE(f32_engine->info().kv_type == kernels::KvType::kF32);
    const Transcript f32 = run_turns(*f32_engine, {lengths[0]}, decode, vocab);
    const double diff = max_abs_diff(f32.logits[0], ref.logits[0]);
    INFO("bf16 vs f32 KV, max |diff| " << diff << " of max |logit| " << max_abs(f32.logits[0]));
    CHECK(diff > 0);  // the rounding is real
    CHECK(diff <= 1e-2 * max_abs(f32.logits[0]));
  }
  const int n = GENERATE(2, 3);
  const CpVariant v = GENERATE(CpVariant::kPassKV, CpVariant::kPassQ);
  auto e = make_engine(path, n, v, KvCacheType::kBF16);
  const Transcript got = run_turns(*e, lengths, decode, vocab);
  for (size_t turn = 0; turn < lengths.size(); ++turn) {
    INFO("N=" << n << " variant=" << cp_variant_name(v) << " turn " << turn);
    const double tol = test_backend() == "cpu" ? 5e-5 : 2e-2;
    CHECK(max_abs_diff(got.logits[turn], ref.logits[turn]) <= tol * max_abs(ref.logits[turn]));
    CHECK(got.tokens[turn] == ref.tokens[turn]);
  }
}

TEST_CASE("CP with bf16 or 8-bit weights equals N = 1 with the same weights", "[cp]") {
  if (test_backend() != "cpu") return;  // CUDA weights are always bf16: the test above
  const WeightType type = GENERATE(WeightType::kBF16, WeightType::kQ8_0);
  test::TinyModelSpec spec;
  spec.heads = 4;
  spec.kv_heads = 2;
  spec.dim = 64;
  const std::string path =
      test::temp_dir(std::string("cp_engine_weights_") + weight_type_name(type)) + "/tiny.gguf";
  test::write_tiny_model(path, spec);
  const std::vector<int> lengths{37, 1, 130};
  const int decode = 6;
  auto ref_engine = make_engine(path, 1, CpVariant::kAuto, KvCacheType::kAuto, type);
  REQUIRE(ref_engine->info().weight_type == type);
  const int vocab = ref_engine->info().model.vocab;
  const Transcript ref = run_turns(*ref_engine, lengths, decode, vocab);
  ref_engine.reset();
  {
    // The weights' rounding moves the first turn's logits off the f32 ones.
    auto f32_engine = make_engine(path, 1, CpVariant::kAuto);
    REQUIRE(f32_engine->info().weight_type == WeightType::kF32);
    const Transcript f32 = run_turns(*f32_engine, {lengths[0]}, decode, vocab);
    CHECK(max_abs_diff(f32.logits[0], ref.logits[0]) > 0);
  }
  const CpVariant v = GENERATE(CpVariant::kPassKV, CpVariant::kPassQ);
  auto e = make_engine(path, 2, v, KvCacheType::kAuto, type);
  const Transcript got = run_turns(*e, lengths, decode, vocab);
  for (size_t turn = 0; turn < lengths.size(); ++turn) {
    INFO(weight_type_name(type) << " variant=" << cp_variant_name(v) << " turn " << turn);
    CHECK(max_abs_diff(got.logits[turn], ref.logits[turn]) <= 5e-5 * max_abs(ref.logits[turn]));
    CHECK(got.tokens[turn] == ref.tokens[turn]);
  }
}
