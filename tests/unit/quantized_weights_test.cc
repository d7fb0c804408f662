// Models whose matrices are stored in each quantized GGUF type load and run:
// a model of each type gives exactly the prompt logits and greedy tokens of
// its f32 twin (the same matrices, decoded by the same dequantize and stored
// as F32), so the type's tensors went through the loader whole. This cannot
// see an encoder or decoder bug (both files share them): dequantize_test
// checks the decoding against gguf-py's, gguf_reader_test the files against
// gguf-py's reader.
#include <catch2/catch.hpp>

#include "model/gguf.h"
#include "runtime/engine.h"
#include "test_util.h"
#include "tiny_model.h"

using namespace ringlm;

namespace {

struct Run {
  std::vector<float> logits;
  std::vector<int32_t> tokens;
};

Run run(const std::string& path) {
  EngineOptions o;
  o.model_path = path;
  o.threads_per_rank = 1;
  o.attn_flops = 1e9;
  o.link_bytes_per_s = 1e9;
  auto e = Engine::Create(o);
  INFO(e.status().ToString());
  REQUIRE(e.ok());
  auto sid = (*e)->open_session();
  REQUIRE(sid.ok());
  std::vector<int32_t> prompt;
  for (int i = 0; i < 40; ++i) prompt.push_back((i * 37 + 11) % 256);
  GenerateOptions go;
  go.max_tokens = 8;
  go.want_prompt_logits = true;
  auto r = (*e)->generate(*sid, prompt, go);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return {r->prompt_logits, r->tokens};
}

}  // namespace

TEST_CASE("a model of each quantized type runs as its f32 twin", "[model][quant]") {
  const DType type = GENERATE(DType::kQ5_0, DType::kQ5_1, DType::kIQ4_NL, DType::kQ2_K,
                              DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K,
                              DType::kIQ4_XS, DType::kQ8_0);
  const std::string name(dtype_name(type));
  INFO(name);
  test::TinyModelSpec spec;
  spec.dim = 256;  // rows of whole 256-element super-blocks
  spec.heads = 4;
  spec.kv_heads = 2;
  spec.ffn = 512;
  spec.weight_type = type;
  const std::string dir = test::temp_dir("quantized_weights_" + name);
  test::write_tiny_model(dir + "/q.gguf", spec);
  {
    auto f = GgufFile::Open(dir + "/q.gguf");
    REQUIRE(f.ok());
    const GgufTensorInfo* t = (*f)->find_tensor("blk.0.ffn_down.weight");
    REQUIRE(t);
    CHECK(t->type == type);
  }
  spec.store_dequantized = true;
  test::write_tiny_model(dir + "/twin.gguf", spec);
  const Run q = run(dir + "/q.gguf"), twin = run(dir + "/twin.gguf");
  REQUIRE(q.logits.size() == twin.logits.size());
  CHECK(q.logits == twin.logits);
  CHECK(q.tokens == twin.tokens);
}
