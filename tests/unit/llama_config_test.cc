// model_config_from_gguf: the Llama-family metadata a model needs, and the
// values it refuses (head counts, RoPE and norm parameters) with the key named.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>

#include "model/gguf.h"
#include "model/gguf_writer.h"
#include "model/model_config.h"

namespace {

using namespace ringlm;

// A minimal llama file; `edit` adds or replaces metadata before writing;
// `vocab` rows of token_embd.weight.
Result<ModelConfig> config_of(const std::function<void(GgufWriter&)>& edit, int64_t vocab = 4) {
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_u32("llama.block_count", 1);
  w.add_u32("llama.embedding_length", 8);
  w.add_u32("llama.feed_forward_length", 16);
  w.add_u32("llama.attention.head_count", 2);
  w.add_u32("llama.attention.head_count_kv", 1);
  edit(w);
  REQUIRE(w.add_tensor_f32("token_embd.weight", DType::kF32, {8, vocab},
                           std::vector<float>(size_t(8 * vocab))).ok());
  auto f = GgufFile::FromBytes(w.to_bytes().value());
  REQUIRE(f.ok());
  return model_config_from_gguf(*f.value());
}

}  // namespace

TEST_CASE("a minimal llama file gives the defaults", "[model_config]") {
  auto c = config_of([](GgufWriter&) {});
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  CHECK(c->head_dim == 4);
  CHECK(c->n_kv_heads == 1);
  CHECK(c->vocab == 4);
  CHECK(c->rope.theta == 10000.f);
  CHECK(c->rms_eps > 0);
}

TEST_CASE("an embedding table without rows is refused", "[model_config]") {
  auto c = config_of([](GgufWriter&) {}, 0);
  CHECK(c.status().code() == StatusCode::kCorruptData);
  CHECK_THAT(c.status().message(), Catch::Contains("token_embd.weight"));
}

TEST_CASE("RoPE and norm parameters must be finite and positive", "[model_config]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::string keys[] = {"llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon"};
  for (const std::string& key : keys) {
    for (float bad : {0.f, -1.f, nan, inf}) {
      INFO(key << " = " << bad);
      auto c = config_of([&](GgufWriter& w) { w.add_f32(key, bad); });
      CHECK(c.status().code() == StatusCode::kCorruptData);
      CHECK_THAT(c.status().message(), Catch::Contains(key));
    }
    // Present with the wrong type: refused, not replaced by the default.
    auto c = config_of([&](GgufWriter& w) { w.add_string(key, "10000"); });
    CHECK_FALSE(c.ok());
  }
  for (float bad : {0.f, nan}) {
    auto c = config_of([&](GgufWriter& w) {
      w.add_string("llama.rope.scaling.type", "linear");
      w.add_f32("llama.rope.scaling.factor", bad);
    });
    CHECK(c.status().code() == StatusCode::kCorruptData);
  }
  auto ok = config_of([](GgufWriter& w) { w.add_f32("llama.rope.freq_base", 500000.f); });
  REQUIRE(ok.ok());
  CHECK(ok->rope.theta == 500000.f);
}

TEST_CASE("head counts must divide", "[model_config]") {
  auto c = config_of([](GgufWriter& w) { w.add_u32("llama.attention.head_count_kv", 3); });
  CHECK(c.status().code() == StatusCode::kCorruptData);
}
