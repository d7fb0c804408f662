#include "tiny_model.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "cpu/dequantize.h"
#include "model/gguf_quantize.h"
#include "model/gguf_writer.h"

namespace ringlm::test {
namespace {

// GPT-2 byte-level mapping: printable bytes map to themselves, the rest to
// U+0100 and up, in byte order.
std::string byte_token(int b) {
  int cp = b;
  const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  if (!printable) {
    int n = 0;
    for (int x = 0; x < b; ++x) {
      const bool p = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255);
      if (!p) ++n;
    }
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

}  // namespace

void write_tiny_model(const std::string& path, const TinyModelSpec& sp) {
  GgufWriter w;
  const std::string a = sp.arch + ".";
  w.add_string("general.architecture", sp.arch);
  w.add_string("general.name", "tiny-random-" + sp.arch);
  w.add_u32(a + "block_count", sp.layers);
  w.add_u32(a + "embedding_length", sp.dim);
  w.add_u32(a + "feed_forward_length", sp.ffn);
  w.add_u32(a + "attention.head_count", sp.heads);
  w.add_u32(a + "attention.head_count_kv", sp.kv_heads);
  w.add_u32(a + "context_length", sp.context);
  w.add_f32(a + "rope.freq_base", sp.rope_theta);
  w.add_f32(a + "attention.layer_norm_rms_epsilon", 1e-5f);

  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(byte_token(b));
    types.push_back(1);
  }
  for (const char* special : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
    tokens.push_back(special);
    types.push_back(3);
  }
  while (tokens.size() % 8) {
    tokens.push_back("<pad" + std::to_string(tokens.size()) + ">");
    types.push_back(5);
  }
  const int vocab = int(tokens.size());
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", "gpt2");
  w.add_string_array("tokenizer.ggml.tokens", tokens);
  w.add_i32_array("tokenizer.ggml.token_type", types);
  w.add_string_array("tokenizer.ggml.merges", {});
  if (sp.scores >= 0) w.add_f32_array("tokenizer.ggml.scores", std::vector<float>(size_t(sp.scores)));
  w.add_u32("tokenizer.ggml.bos_token_id", 256);
  w.add_u32("tokenizer.ggml.eos_token_id", 258);
  w.add_bool("tokenizer.ggml.add_bos_token", sp.add_bos);
  w.add_string("tokenizer.chat_template",
               !sp.chat_template.empty()
                   ? sp.chat_template
                   : "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
                     "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if "
                     "add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}");

  std::mt19937 rng(sp.seed);
  auto tensor = [&](const std::string& name, std::vector<int64_t> ne, float scale, float offset) {
    int64_t n = 1;
    for (auto x : ne) n *= x;
    std::normal_distribution<float> dist(0.f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = offset + dist(rng);
    if (sp.nan_output_norm && name == "output_norm.weight") v[0] = std::nanf("");
    DType t = ne.size() == 1 ? DType::kF32 : sp.weight_type;
    if (sp.store_dequantized && t != DType::kF32) {
      const std::vector<uint8_t> q = quantize(t, v);
      REQUIRE(kernels::cpu::dequantize(t, q.data(), v.data(), n));
      t = DType::kF32;
    }
    REQUIRE(w.add_tensor_f32(name, t, ne, v).ok());
  };
  const int hd = sp.dim / sp.heads;
  const float s_in = 1.f / std::sqrt(float(sp.dim));
  tensor("token_embd.weight", {sp.dim, vocab}, 1.f, 0.f);
  tensor("output_norm.weight", {sp.dim}, 0.1f, 1.f);
  for (int l = 0; l < sp.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    tensor(p + "attn_norm.weight", {sp.dim}, 0.1f, 1.f);
    tensor(p + "ffn_norm.weight", {sp.dim}, 0.1f, 1.f);
    // Larger Q/K scale gives peaky attention, so masking mistakes show.
    tensor(p + "attn_q.weight", {sp.dim, sp.heads * hd}, 4 * s_in, 0.f);
    tensor(p + "attn_k.weight", {sp.dim, sp.kv_heads * hd}, 4 * s_in, 0.f);
    tensor(p + "attn_v.weight", {sp.dim, sp.kv_heads * hd}, s_in, 0.f);
    tensor(p + "attn_output.weight", {sp.heads * hd, sp.dim}, s_in, 0.f);
    tensor(p + "ffn_gate.weight", {sp.dim, sp.ffn}, s_in, 0.f);
    tensor(p + "ffn_up.weight", {sp.dim, sp.ffn}, s_in, 0.f);
    tensor(p + "ffn_down.weight", {sp.ffn, sp.dim}, 1.f / std::sqrt(float(sp.ffn)), 0.f);
    if (sp.arch == "qwen2") {
      tensor(p + "attn_q.bias", {sp.heads * hd}, 0.1f, 0.f);
      tensor(p + "attn_k.bias", {sp.kv_heads * hd}, 0.1f, 0.f);
      tensor(p + "attn_v.bias", {sp.kv_heads * hd}, 0.1f, 0.f);
    }
  }
  REQUIRE(w.write(path).ok());
}

}  // namespace ringlm::test
