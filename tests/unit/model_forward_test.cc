// The engine's forward on the real model against an independent float64
// numpy reference (tests/tools/reference_forward.py over gguf-py's
// dequantization), plus multi-turn equality and generation determinism.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>

#include "runtime/engine.h"
#include "test_util.h"

using namespace ringlm;

namespace {

Engine& real_engine() {
  static std::unique_ptr<Engine> e = [] {
    EngineOptions o;
    o.model_path = test::model_path();
    auto r = Engine::Create(o);
    REQUIRE(r.ok());
    return std::move(r).value();
  }();
  return *e;
}

std::vector<float> prompt_logits(Engine& e, const std::vector<int32_t>& ids) {
  auto sid = e.open_session();
  REQUIRE(sid.ok());
  GenerateOptions g;
  g.max_tokens = 0;
  g.want_prompt_logits = true;
  auto r = e.generate(sid.value(), ids, g);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  REQUIRE(e.close_session(sid.value()).ok());
  return r->prompt_logits;
}

std::vector<float> reference_logits(const std::vector<int32_t>& ids) {
  const std::string out = test::temp_dir("reference_forward") + "/logits.f32";
  std::string cmd = "python3 " + test::source_dir() + "/tests/tools/reference_forward.py " +
                    test::model_path() + " " + out;
  for (int32_t id : ids) {
    cmd += ' ';  // appended: GCC 12 warns falsely on " " + std::to_string(id)
    cmd += std::to_string(id);
  }
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream f(out, std::ios::binary);
  std::vector<float> v(49152);
  f.read(reinterpret_cast<char*>(v.data()), v.size() * sizeof(float));
  REQUIRE(f.gcount() == std::streamsize(v.size() * sizeof(float)));
  return v;
}

size_t argmax(const std::vector<float>& v) {
  return size_t(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

TEST_CASE("real model logits match the float64 reference", "[model]") {
  Engine& e = real_engine();
  const std::string text = GENERATE(as<std::string>{}, "The capital of France is",
                                    "def fibonacci(n):\n    if n < 2:",
                                    "<|im_start|>user\nHello, who are you?<|im_end|>\n<|im_start|>assistant\n",
                                    "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich. 東京");
  auto ids = e.tokenizer().encode(text, true, true);
  REQUIRE(ids.ok());
  const auto ours = prompt_logits(e, ids.value());
  const auto ref = reference_logits(ids.value());
  const test::Deviation d = test::deviation(ours, ref);
  // Tolerance: f32 compute over 30 layers vs f64; 1e-3 of the logit range.
  INFO("max |diff| " << d.max_diff << " of max |logit| " << d.max_ref);
  CHECK(d.max_diff <= 1e-3 * d.max_ref);
  CHECK(argmax(ours) == argmax(ref));
}

TEST_CASE("real model over a bf16 KV cache stays near the float64 reference", "[model]") {
  EngineOptions o;
  o.model_path = test::model_path();
  o.kv_cache_type = KvCacheType::kBF16;
  auto e = Engine::Create(o);
  REQUIRE(e.ok());
  REQUIRE(e.value()->info().kv_type == kernels::KvType::kBF16);
  auto ids = e.value()->tokenizer().encode("The capital of France is", true, true);
  REQUIRE(ids.ok());
  const auto ours = prompt_logits(*e.value(), ids.value());
  const auto ref = reference_logits(ids.value());
  const test::Deviation d = test::deviation(ours, ref);
  // K and V rounded to bf16 (8 significant bits) before attention.
  INFO("max |diff| " << d.max_diff << " of max |logit| " << d.max_ref);
  CHECK(d.max_diff <= 1e-2 * d.max_ref);
  CHECK(argmax(ours) == argmax(ref));
}

TEST_CASE("real model with bf16 or 8-bit weights stays near the float64 reference", "[model]") {
  const WeightType type = GENERATE(WeightType::kBF16, WeightType::kQ8_0);
  INFO(weight_type_name(type));
  EngineOptions o;
  o.model_path = test::model_path();
  o.weight_type = type;
  auto e = Engine::Create(o);
  REQUIRE(e.ok());
  REQUIRE(e.value()->info().weight_type == type);
  for (const char* text : {"The capital of France is", "def fibonacci(n):\n    if n < 2:"}) {
    auto ids = e.value()->tokenizer().encode(text, true, true);
    REQUIRE(ids.ok());
    const auto ours = prompt_logits(*e.value(), ids.value());
    const auto ref = reference_logits(ids.value());
    const test::Deviation d = test::deviation(ours, ref);
    // Every weight rounded to bf16 (8 significant bits) or to 1/254 of its
    // 32-block's largest magnitude; f32 arithmetic.
    INFO(text << ": max |diff| " << d.max_diff << " of max |logit| " << d.max_ref);
    CHECK(d.max_diff > 1e-3 * d.max_ref);  // the rounding is real
    CHECK(d.max_diff <= (type == WeightType::kBF16 ? 1.5e-2 : 6e-2) * d.max_ref);
    CHECK(argmax(ours) == argmax(ref));
  }
  auto sid = e.value()->open_session();
  REQUIRE(sid.ok());
  GenerateOptions g;
  g.max_tokens = 40;
  std::vector<ChatMessage> m{{"user", "What is the capital of France?"}};
  auto r = e.value()->chat(sid.value(), m, g);
  REQUIRE(r.ok());
  INFO(r->text);
  CHECK(r->text.find("Paris") != std::string::npos);
}

TEST_CASE("turn 2 logits equal one prefill of the whole conversation", "[model]") {
  Engine& e = real_engine();
  auto sid = e.open_session();
  REQUIRE(sid.ok());
  GenerateOptions g;
  g.max_tokens = 12;
  std::vector<ChatMessage> t1{{"user", "Name three primary colors."}};
  auto r1 = e.chat(sid.value(), t1, g);
  REQUIRE(r1.ok());
  g.max_tokens = 0;
  g.want_prompt_logits = true;
  std::vector<ChatMessage> t2{{"user", "And which of them is the color of the sky?"}};
  auto r2 = e.chat(sid.value(), t2, g);
  REQUIRE(r2.ok());
  CHECK(r2->stats.cached_tokens > 20);
  auto history = e.session_tokens(sid.value());
  REQUIRE(history.ok());
  CHECK(r2->stats.new_tokens == int64_t(history->size()) - r2->stats.cached_tokens);
  const auto whole = prompt_logits(e, history.value());
  double max_diff = 0;
  for (size_t i = 0; i < whole.size(); ++i)
    max_diff = std::max(max_diff, std::abs(double(whole[i]) - r2->prompt_logits[i]));
  INFO("max |diff| " << max_diff);
  CHECK(max_diff < 1e-3);
  CHECK(argmax(whole) == argmax(r2->prompt_logits));
}

TEST_CASE("greedy chat answers coherently", "[model]") {
  Engine& e = real_engine();
  auto sid = e.open_session();
  REQUIRE(sid.ok());
  GenerateOptions g;
  g.max_tokens = 40;
  std::vector<ChatMessage> m{{"user", "What is the capital of France?"}};
  auto r = e.chat(sid.value(), m, g);
  REQUIRE(r.ok());
  INFO(r->text);
  CHECK(r->text.find("Paris") != std::string::npos);
}

TEST_CASE("sampled generation is deterministic for a seed", "[model]") {
  Engine& e = real_engine();
  auto ids = e.tokenizer().encode("Once upon a time", true, true);
  REQUIRE(ids.ok());
  auto run = [&](uint64_t seed) {
    auto sid = e.open_session();
    REQUIRE(sid.ok());
    GenerateOptions g;
    g.max_tokens = 24;
    g.sampling.temperature = 0.9f;
    g.sampling.top_p = 0.95f;
    g.sampling.top_k = 50;
    g.sampling.seed = seed;
    auto r = e.generate(sid.value(), ids.value(), g);
    REQUIRE(r.ok());
    return r->tokens;
  };
  const auto a = run(42), b = run(42), c = run(7);
  CHECK(a == b);
  CHECK(a.size() == 24);
  CHECK(a != c);
}
