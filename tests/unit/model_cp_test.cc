// CP is lossless on the real model: a three-turn chat on N = 2 and 3 rank
// threads with each ring variant gives the N = 1 logits after every turn's
// prefill (full prefill, then partial prefills over KV that includes decoded
// tokens) and identical greedy replies.
#include <catch2/catch.hpp>
#include <cmath>

#include "runtime/engine.h"
#include "test_util.h"

using namespace ringlm;

namespace {

struct Turn {
  std::vector<float> logits;
  std::string text;
  TurnStats stats;
};

std::vector<Turn> chat3(int n, CpVariant v, KvCacheType kv = KvCacheType::kAuto) {
  EngineOptions o;
  o.kv_cache_type = kv;
  o.model_path = test::model_path();
  o.world_size = n;
  o.variant = v;
  o.threads_per_rank = n == 1 ? 0 : 1;
  o.attn_flops = 1e10;
  o.link_bytes_per_s = 1e9;
  auto e = Engine::Create(o);
  INFO(e.status().ToString());
  REQUIRE(e.ok());
  auto sid = e.value()->open_session();
  REQUIRE(sid.ok());
  std::vector<Turn> out;
  for (const char* q : {"My favourite fruit is the mango. What colour is a ripe mango?",
                        "Name one country where mangoes grow.",
                        "What did I say my favourite fruit was?"}) {
    GenerateOptions g;
    g.max_tokens = 16;
    g.want_prompt_logits = true;
    std::vector<ChatMessage> m{{"user", q}};
    auto r = e.value()->chat(sid.value(), m, g);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    out.push_back({r->prompt_logits, r->text, r->stats});
  }
  return out;
}

}  // namespace

TEST_CASE("real model: CP logits and greedy replies equal N = 1", "[model][cp]") {
  static const std::vector<Turn> ref = chat3(1, CpVariant::kAuto);
  const int n = GENERATE(2, 3);
  const CpVariant v = GENERATE(CpVariant::kPassKV, CpVariant::kPassQ);
  const std::vector<Turn> got = chat3(n, v);
  for (size_t t = 0; t < ref.size(); ++t) {
    INFO("N=" << n << " " << cp_variant_name(v) << " turn " << t);
    const test::Deviation d = test::deviation(got[t].logits, ref[t].logits);
    INFO("max |diff| " << d.max_diff << " of max |logit| " << d.max_ref);
    CHECK(d.max_diff <= 1e-4 * d.max_ref);
    CHECK(got[t].text == ref[t].text);
    CHECK(got[t].stats.variant == cp_variant_name(v));
    CHECK(got[t].stats.cached_tokens == ref[t].stats.cached_tokens);
    CHECK(got[t].stats.new_tokens == ref[t].stats.new_tokens);
    if (t > 0) CHECK(got[t].stats.cached_tokens > 0);
    REQUIRE(got[t].stats.kv_tokens.size() == size_t(n));
    REQUIRE(got[t].stats.kv_bytes.size() == size_t(n));
    for (int r = 0; r < n; ++r) CHECK(got[t].stats.kv_bytes[r] > 0);
    int64_t kv = 0;
    for (int64_t k : got[t].stats.kv_tokens) kv += k;
    // The shards together hold what one rank holds (prompt + fed decode tokens).
    CHECK(kv == ref[t].stats.kv_tokens[0]);
    CHECK(kv >= got[t].stats.cached_tokens + got[t].stats.new_tokens);
  }
}

TEST_CASE("real model over a bf16 KV cache: CP stays within the bf16 rounding", "[model][cp]") {
  // A K element computed in another GEMM batch shape may round to the
  // neighbouring bf16 value; over 30 layers that moves the logits by about
  // 0.2% of their range (measured up to 0.19%), against 1e-4 with f32 K/V.
  const std::vector<Turn> ref = chat3(1, CpVariant::kAuto, KvCacheType::kBF16);
  const std::vector<Turn> got = chat3(2, CpVariant::kPassKV, KvCacheType::kBF16);
  for (size_t t = 0; t < ref.size(); ++t) {
    const test::Deviation d = test::deviation(got[t].logits, ref[t].logits);
    INFO("turn " << t << ": max |diff| " << d.max_diff << " of max |logit| " << d.max_ref);
    CHECK(d.max_diff <= 5e-3 * d.max_ref);
    CHECK(got[t].text == ref[t].text);
    CHECK(got[t].stats.cached_tokens == ref[t].stats.cached_tokens);
  }
}
