// Small random-weight Llama-family GGUF models for tests that need other
// shapes than the default model (CP equality on many shapes, GQA ratios).
// The tokenizer is byte-level (256 byte tokens, no merges) plus ChatML
// special tokens, so the engine can chat with it (gibberish, deterministic).
#pragma once

#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace ringlm::test {

struct TinyModelSpec {
  std::string arch = "llama";  // or "qwen2" (neox rope, qkv bias)
  int layers = 2;
  int dim = 64;
  int heads = 4;
  int kv_heads = 2;
  int ffn = 128;
  int context = 4096;
  float rope_theta = 10000.f;
  DType weight_type = DType::kF32;  // of the matrices (norms and biases stay F32)
  // The matrices' values as weight_type decodes them, stored as F32: the
  // f32 twin of the weight_type model.
  bool store_dequantized = false;
  uint32_t seed = 1;
  bool add_bos = false;       // tokenizer.ggml.add_bos_token (BOS: "<|endoftext|>")
  std::string chat_template;  // Jinja source; empty: ChatML
  bool nan_output_norm = false;  // a NaN in output_norm.weight: every logit is NaN
  int scores = -1;  // items of tokenizer.ggml.scores (all 0); -1: no such key
};

// Writes the model to `path`; REQUIREs success.
void write_tiny_model(const std::string& path, const TinyModelSpec& spec);

}  // namespace ringlm::test
