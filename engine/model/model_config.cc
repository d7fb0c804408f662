#include "model/model_config.h"

#include <cmath>
#include <cstdint>

#include "model/gguf.h"

namespace ringlm {
namespace {

bool supported_arch(const std::string& a) { return a == "llama" || a == "qwen2" || a == "mistral"; }

}  // namespace

Result<ModelConfig> model_config_from_gguf(const GgufFile& f) {
  ModelConfig c;
  RINGLM_ASSIGN_OR_RETURN(c.arch, f.get_string("general.architecture"));
  if (!supported_arch(c.arch))
    return Unsupported("model architecture '" + c.arch +
                       "' is not supported (supported: llama, mistral, qwen2)");
  if (auto n = f.get_string("general.name"); n.ok()) c.name = n.value();
  const std::string a = c.arch + ".";
  auto get_int = [&](const std::string& key, int* out, int lo, int hi) -> Status {
    RINGLM_ASSIGN_OR_RETURN(int64_t v, f.get_int(key));
    if (v < lo || v > hi)
      return CorruptData("metadata " + key + " = " + std::to_string(v) + " out of range [" +
                         std::to_string(lo) + ", " + std::to_string(hi) + "]");
    *out = int(v);
    return Status::Ok();
  };
  // An optional float: absent keeps *out; present must be a finite number > 0.
  auto get_positive = [&](const std::string& key, float* out) -> Status {
    if (!f.find(key)) return Status::Ok();
    RINGLM_ASSIGN_OR_RETURN(double v, f.get_float(key));
    if (!(float(v) > 0) || !std::isfinite(float(v)))
      return CorruptData("metadata " + key + " = " + std::to_string(v) +
                         " must be a finite number > 0");
    *out = float(v);
    return Status::Ok();
  };
  RINGLM_RETURN_IF_ERROR(get_int(a + "block_count", &c.n_layers, 1, 1024));
  RINGLM_RETURN_IF_ERROR(get_int(a + "embedding_length", &c.dim, 1, 1 << 16));
  RINGLM_RETURN_IF_ERROR(get_int(a + "feed_forward_length", &c.ffn_dim, 1, 1 << 20));
  RINGLM_RETURN_IF_ERROR(get_int(a + "attention.head_count", &c.n_heads, 1, 4096));
  c.n_kv_heads = c.n_heads;
  if (f.find(a + "attention.head_count_kv"))
    RINGLM_RETURN_IF_ERROR(get_int(a + "attention.head_count_kv", &c.n_kv_heads, 1, c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0)
    return CorruptData("head_count " + std::to_string(c.n_heads) +
                       " is not a multiple of head_count_kv " + std::to_string(c.n_kv_heads));
  if (c.dim % c.n_heads != 0) return CorruptData("embedding_length not divisible by head_count");
  c.head_dim = c.dim / c.n_heads;
  if (f.find(a + "attention.key_length"))
    RINGLM_RETURN_IF_ERROR(get_int(a + "attention.key_length", &c.head_dim, 1, 1024));
  c.context_length = 4096;
  if (f.find(a + "context_length"))
    RINGLM_RETURN_IF_ERROR(get_int(a + "context_length", &c.context_length, 1, 1 << 30));
  RINGLM_RETURN_IF_ERROR(get_positive(a + "attention.layer_norm_rms_epsilon", &c.rms_eps));

  auto& r = c.rope;
  r.head_dim = c.head_dim;
  r.rot_dim = c.head_dim;
  if (f.find(a + "rope.dimension_count"))
    RINGLM_RETURN_IF_ERROR(get_int(a + "rope.dimension_count", &r.rot_dim, 2, c.head_dim));
  if (r.rot_dim % 2) return CorruptData("rope.dimension_count must be even");
  r.theta = 10000.f;
  RINGLM_RETURN_IF_ERROR(get_positive(a + "rope.freq_base", &r.theta));
  r.neox = c.arch == "qwen2";
  c.qkv_bias = c.arch == "qwen2";
  if (auto s = f.get_string(a + "rope.scaling.type"); s.ok() && s.value() != "none") {
    if (s.value() != "linear" && s.value() != "llama3")
      return Unsupported("rope scaling type '" + s.value() + "' is not supported");
    r.scaling =
        s.value() == "linear" ? kernels::RopeScaling::kLinear : kernels::RopeScaling::kLlama3;
    RINGLM_RETURN_IF_ERROR(get_positive(a + "rope.scaling.factor", &r.factor));
    if (f.find(a + "rope.scaling.original_context_length"))
      RINGLM_RETURN_IF_ERROR(
          get_int(a + "rope.scaling.original_context_length", &r.original_context, 1, 1 << 30));
  }
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  const GgufTensorInfo* emb = f.find_tensor("token_embd.weight");
  if (!emb || emb->ne.size() != 2 || emb->ne[0] != c.dim)
    return CorruptData("token_embd.weight missing or not [embedding_length, vocab]");
  if (emb->ne[1] < 1 || emb->ne[1] > INT32_MAX)
    return CorruptData("token_embd.weight has " + std::to_string(emb->ne[1]) + " rows");
  c.vocab = int(emb->ne[1]);
  return c;
}

}  // namespace ringlm
