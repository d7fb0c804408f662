// LlamaModel: weights of a Llama-family decoder in a Backend, and its forward.
//
// The forward runs every layer over n tokens with their global positions and
// delegates attention to a LayerAttention, so the same code serves one device
// (attention over the local paged KV) and context parallelism (ring attention
// over the ranks' KV shards).
//
// Threads: const after Load(); forward() may run concurrently on several
// threads when each passes its own Backend and ForwardScratch.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "model/model_config.h"

namespace ringlm {

class GgufFile;

// Attention of one layer. q [n, hq, d], k and v [n, hkv, d] after RoPE, in
// backend memory; writes out [n, hq, d]. The implementation knows the tokens'
// positions and stores k/v in the KV cache.
class LayerAttention {
 public:
  virtual ~LayerAttention() = default;
  virtual Status attend(int layer, const float* q, const float* k, const float* v, float* out) = 0;
};

// Backend buffers reused across forward calls (grown on demand).
class ForwardScratch {
 public:
  Status reserve(Backend& be, const ModelConfig& c, int64_t n);
  float* x = nullptr;      // [n, dim] residual stream
  float* h = nullptr;      // [n, dim] normed
  float* q = nullptr;      // [n, hq*d]
  float* k = nullptr;      // [n, hkv*d]
  float* v = nullptr;      // [n, hkv*d]
  float* att = nullptr;    // [n, hq*d]
  float* gate = nullptr;   // [n, ffn]
  float* up = nullptr;     // [n, ffn]
  int32_t* pos = nullptr;  // [n]

 private:
  Buffer mem_;
  int64_t cap_ = 0;
};

class LlamaModel {
 public:
  // Reads config and tensors (dequantized to f32 on the host, then handed to
  // the backend). kCorruptData / kNotFound naming a missing or misshapen
  // tensor; kUnsupported for an unsupported architecture.
  static Result<std::unique_ptr<LlamaModel>> Load(const GgufFile& file, Backend& backend);
  // Random weights of the given shape (benchmarks of model shapes no file is
  // at hand for): uniform values of standard deviation 0.02, norms 1, tied
  // output head. Deterministic for a seed.
  static Result<std::unique_ptr<LlamaModel>> Random(const ModelConfig& cfg, Backend& backend,
                                                    uint64_t seed);

  const ModelConfig& config() const { return cfg_; }
  Backend& backend() const { return backend_; }
  // The file's metadata fingerprint mixed with a sample of every tensor's
  // data, so that two files of equal shapes but other weights differ (0 for
  // Random models, which a seed describes). Ranks of a group compare it.
  uint64_t fingerprint() const { return fingerprint_; }

  // Runs the decoder over tokens `ids` (host, validated against the
  // vocabulary) at global positions `pos` (host; negative = padding row whose
  // output is ignored). For each local row index in `logit_rows` writes the
  // vocabulary logits to `logits` (host, [logit_rows.size(), vocab]).
  // `be` runs the ops; it must be able to use this model's weights (the
  // backend the model was loaded on, or any CPU backend for a CPU-loaded
  // model, which lets rank threads in one process share one copy).
  Status forward(Backend& be, std::span<const int32_t> ids, std::span<const int32_t> pos,
                 LayerAttention& attn, ForwardScratch& scratch, std::span<const int64_t> logit_rows,
                 float* logits) const;

 private:
  struct Layer {
    Buffer attn_norm, ffn_norm;  // [dim]
    std::unique_ptr<Weight> wq, wk, wv, wo, w_gate, w_up, w_down;
    Buffer bq, bk, bv;  // Qwen2 biases (empty otherwise)
  };

  LlamaModel(Backend& be, ModelConfig cfg) : backend_(be), cfg_(std::move(cfg)) {}

  Backend& backend_;
  ModelConfig cfg_;
  uint64_t fingerprint_ = 0;
  std::vector<float> rope_freq_factors_;
  std::unique_ptr<Weight> tok_embd_;
  std::unique_ptr<Weight> output_;  // null when tied to tok_embd_
  Buffer output_norm_;
  std::vector<Layer> layers_;
};

}  // namespace ringlm
