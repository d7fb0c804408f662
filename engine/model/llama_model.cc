#include "model/llama_model.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "model/gguf.h"

namespace ringlm {
namespace {

// Reads tensor `name` as f32 and checks its ggml shape.
Result<std::vector<float>> read_checked(const GgufFile& f, const std::string& name,
                                        std::vector<int64_t> ne) {
  const GgufTensorInfo* t = f.find_tensor(name);
  if (!t) return NotFound("model tensor '" + name + "' missing");
  if (t->ne != ne) {
    std::string want, got;
    for (auto x : ne) want += std::to_string(x) + ",";
    for (auto x : t->ne) got += std::to_string(x) + ",";
    return CorruptData("model tensor '" + name + "' has shape [" + got + "], expected [" + want +
                       "]");
  }
  return f.read_tensor_f32(*t);
}

Result<std::unique_ptr<Weight>> load_matrix(const GgufFile& f, Backend& be, const std::string& name,
                                            int64_t rows, int64_t cols) {
  RINGLM_ASSIGN_OR_RETURN(std::vector<float> data, read_checked(f, name, {cols, rows}));
  return be.make_weight(data.data(), rows, cols);
}

Result<Buffer> load_vector(const GgufFile& f, Backend& be, const std::string& name, int64_t n) {
  RINGLM_ASSIGN_OR_RETURN(std::vector<float> data, read_checked(f, name, {n}));
  RINGLM_ASSIGN_OR_RETURN(Buffer b, be.alloc(sizeof(float) * n));
  RINGLM_RETURN_IF_ERROR(be.copy_from_host(b.data(), data.data(), sizeof(float) * n));
  return b;
}

}  // namespace

Status ForwardScratch::reserve(Backend& be, const ModelConfig& c, int64_t n) {
  if (n <= cap_ && mem_.data()) return Status::Ok();
  const int64_t cap = std::max<int64_t>(n, 1);
  const int64_t qd = int64_t(c.n_heads) * c.head_dim, kvd = int64_t(c.n_kv_heads) * c.head_dim;
  const int64_t floats = cap * (2 * c.dim + 2 * qd + 2 * kvd + 2 * c.ffn_dim) + cap;
  RINGLM_ASSIGN_OR_RETURN(mem_, be.alloc(sizeof(float) * floats));
  float* p = mem_.as<float>();
  auto take = [&](int64_t count) {
    float* r = p;
    p += count;
    return r;
  };
  x = take(cap * c.dim);
  h = take(cap * c.dim);
  q = take(cap * qd);
  att = take(cap * qd);
  k = take(cap * kvd);
  v = take(cap * kvd);
  gate = take(cap * c.ffn_dim);
  up = take(cap * c.ffn_dim);
  pos = reinterpret_cast<int32_t*>(take(cap));
  cap_ = cap;
  return Status::Ok();
}

Result<std::unique_ptr<LlamaModel>> LlamaModel::Load(const GgufFile& f, Backend& be) {
  RINGLM_ASSIGN_OR_RETURN(ModelConfig cfg, model_config_from_gguf(f));
  std::unique_ptr<LlamaModel> m(new LlamaModel(be, cfg));
  m->fingerprint_ = f.fingerprint();
  for (const GgufTensorInfo& t : f.tensors()) {
    const auto bytes = f.tensor_bytes(t);
    const size_t n = std::min<size_t>(bytes.size(), 256);
    for (size_t i = 0; i < n; ++i) m->fingerprint_ = (m->fingerprint_ ^ bytes[i]) * 1099511628211ull;
  }
  const ModelConfig& c = m->cfg_;
  const int64_t qd = int64_t(c.n_heads) * c.head_dim, kvd = int64_t(c.n_kv_heads) * c.head_dim;
  if (const GgufTensorInfo* rf = f.find_tensor("rope_freqs.weight")) {
    RINGLM_ASSIGN_OR_RETURN(m->rope_freq_factors_, read_checked(f, rf->name, {c.rope.rot_dim / 2}));
    m->cfg_.rope.freq_factors = m->rope_freq_factors_.data();
  }
  RINGLM_ASSIGN_OR_RETURN(m->tok_embd_, load_matrix(f, be, "token_embd.weight", c.vocab, c.dim));
  if (!c.tied_embeddings) {
    RINGLM_ASSIGN_OR_RETURN(m->output_, load_matrix(f, be, "output.weight", c.vocab, c.dim));
  }
  RINGLM_ASSIGN_OR_RETURN(m->output_norm_, load_vector(f, be, "output_norm.weight", c.dim));
  m->layers_.resize(c.n_layers);
  for (int i = 0; i < c.n_layers; ++i) {
    Layer& L = m->layers_[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    RINGLM_ASSIGN_OR_RETURN(L.attn_norm, load_vector(f, be, p + "attn_norm.weight", c.dim));
    RINGLM_ASSIGN_OR_RETURN(L.ffn_norm, load_vector(f, be, p + "ffn_norm.weight", c.dim));
    RINGLM_ASSIGN_OR_RETURN(L.wq, load_matrix(f, be, p + "attn_q.weight", qd, c.dim));
    RINGLM_ASSIGN_OR_RETURN(L.wk, load_matrix(f, be, p + "attn_k.weight", kvd, c.dim));
    RINGLM_ASSIGN_OR_RETURN(L.wv, load_matrix(f, be, p + "attn_v.weight", kvd, c.dim));
    RINGLM_ASSIGN_OR_RETURN(L.wo, load_matrix(f, be, p + "attn_output.weight", c.dim, qd));
    RINGLM_ASSIGN_OR_RETURN(L.w_gate, load_matrix(f, be, p + "ffn_gate.weight", c.ffn_dim, c.dim));
    RINGLM_ASSIGN_OR_RETURN(L.w_up, load_matrix(f, be, p + "ffn_up.weight", c.ffn_dim, c.dim));
    RINGLM_ASSIGN_OR_RETURN(L.w_down, load_matrix(f, be, p + "ffn_down.weight", c.dim, c.ffn_dim));
    if (c.qkv_bias) {
      RINGLM_ASSIGN_OR_RETURN(L.bq, load_vector(f, be, p + "attn_q.bias", qd));
      RINGLM_ASSIGN_OR_RETURN(L.bk, load_vector(f, be, p + "attn_k.bias", kvd));
      RINGLM_ASSIGN_OR_RETURN(L.bv, load_vector(f, be, p + "attn_v.bias", kvd));
    }
  }
  return m;
}

namespace {

// [rows, cols] uniform in [-a, a], a = 0.02*sqrt(3); rows seeded independently
// (splitmix64) so the fill parallelises and stays deterministic.
std::vector<float> random_matrix(int64_t rows, int64_t cols, uint64_t seed) {
  std::vector<float> v(size_t(rows * cols));
  const float a = 0.02f * std::sqrt(3.f);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + uint64_t(r) * 0xBF58476D1CE4E5B9ull;
    for (int64_t c = 0; c < cols; ++c) {
      x += 0x9E3779B97F4A7C15ull;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      v[size_t(r * cols + c)] = a * (2.f * float(z >> 40) / float(1 << 24) - 1.f);
    }
  }
  return v;
}

Result<std::unique_ptr<Weight>> random_weight(Backend& be, int64_t rows, int64_t cols,
                                              uint64_t seed) {
  std::vector<float> v = random_matrix(rows, cols, seed);
  return be.make_weight(v.data(), rows, cols);
}

Result<Buffer> ones(Backend& be, int64_t n) {
  RINGLM_ASSIGN_OR_RETURN(Buffer b, be.alloc(sizeof(float) * n));
  std::vector<float> v(n, 1.f);
  RINGLM_RETURN_IF_ERROR(be.copy_from_host(b.data(), v.data(), sizeof(float) * n));
  return b;
}

}  // namespace

Result<std::unique_ptr<LlamaModel>> LlamaModel::Random(const ModelConfig& cfg, Backend& be,
                                                       uint64_t seed) {
  if (cfg.n_layers < 1 || cfg.dim < 1 || cfg.n_heads < 1 || cfg.n_kv_heads < 1 ||
      cfg.n_heads % cfg.n_kv_heads || cfg.head_dim < 2 || cfg.ffn_dim < 1 || cfg.vocab < 1)
    return InvalidArgument("random model: inconsistent shape");
  std::unique_ptr<LlamaModel> m(new LlamaModel(be, cfg));
  m->cfg_.tied_embeddings = true;
  m->cfg_.qkv_bias = false;
  const ModelConfig& c = m->cfg_;
  const int64_t qd = int64_t(c.n_heads) * c.head_dim, kvd = int64_t(c.n_kv_heads) * c.head_dim;
  uint64_t s = seed;
  RINGLM_ASSIGN_OR_RETURN(m->tok_embd_, random_weight(be, c.vocab, c.dim, ++s));
  RINGLM_ASSIGN_OR_RETURN(m->output_norm_, ones(be, c.dim));
  m->layers_.resize(c.n_layers);
  for (Layer& L : m->layers_) {
    RINGLM_ASSIGN_OR_RETURN(L.attn_norm, ones(be, c.dim));
    RINGLM_ASSIGN_OR_RETURN(L.ffn_norm, ones(be, c.dim));
    RINGLM_ASSIGN_OR_RETURN(L.wq, random_weight(be, qd, c.dim, ++s));
    RINGLM_ASSIGN_OR_RETURN(L.wk, random_weight(be, kvd, c.dim, ++s));
    RINGLM_ASSIGN_OR_RETURN(L.wv, random_weight(be, kvd, c.dim, ++s));
    RINGLM_ASSIGN_OR_RETURN(L.wo, random_weight(be, c.dim, qd, ++s));
    RINGLM_ASSIGN_OR_RETURN(L.w_gate, random_weight(be, c.ffn_dim, c.dim, ++s));
    RINGLM_ASSIGN_OR_RETURN(L.w_up, random_weight(be, c.ffn_dim, c.dim, ++s));
    RINGLM_ASSIGN_OR_RETURN(L.w_down, random_weight(be, c.dim, c.ffn_dim, ++s));
  }
  return m;
}

Status LlamaModel::forward(Backend& be, std::span<const int32_t> ids, std::span<const int32_t> pos,
                           LayerAttention& attn, ForwardScratch& s,
                           std::span<const int64_t> logit_rows, float* logits) const {
  const ModelConfig& c = cfg_;
  const int64_t n = int64_t(ids.size());
  if (pos.size() != ids.size())
    return InvalidArgument("forward: ids and positions differ in length");
  if (n == 0) return Status::Ok();
  for (int64_t r : logit_rows)
    if (r < 0 || r >= n) return InvalidArgument("forward: logit row outside the batch");
  RINGLM_RETURN_IF_ERROR(s.reserve(be, c, n));

  RINGLM_RETURN_IF_ERROR(be.copy_from_host(s.pos, pos.data(), sizeof(int32_t) * n));
  RINGLM_RETURN_IF_ERROR(be.embedding(*tok_embd_, ids.data(), s.x, n));
  for (int li = 0; li < c.n_layers; ++li) {
    const Layer& L = layers_[li];
    // Attention block: x += Wo * attn(rope(Wq h), rope(Wk h), Wv h), h = rmsnorm(x).
    RINGLM_RETURN_IF_ERROR(be.rmsnorm(s.x, L.attn_norm.as<float>(), s.h, n, c.dim, c.rms_eps));
    RINGLM_RETURN_IF_ERROR(be.matmul(s.h, *L.wq, L.bq.as<float>(), s.q, n));
    RINGLM_RETURN_IF_ERROR(be.matmul(s.h, *L.wk, L.bk.as<float>(), s.k, n));
    RINGLM_RETURN_IF_ERROR(be.matmul(s.h, *L.wv, L.bv.as<float>(), s.v, n));
    RINGLM_RETURN_IF_ERROR(be.rope(s.q, s.pos, n, c.n_heads, c.rope));
    RINGLM_RETURN_IF_ERROR(be.rope(s.k, s.pos, n, c.n_kv_heads, c.rope));
    RINGLM_RETURN_IF_ERROR(
        attn.attend(li, s.q, s.k, s.v, s.att).WithContext("layer " + std::to_string(li)));
    RINGLM_RETURN_IF_ERROR(be.matmul_add(s.att, *L.wo, s.x, n));  // x += att Wo^T
    // Feed-forward block: x += W_down (silu(W_gate h) * W_up h), h = rmsnorm(x).
    RINGLM_RETURN_IF_ERROR(be.rmsnorm(s.x, L.ffn_norm.as<float>(), s.h, n, c.dim, c.rms_eps));
    RINGLM_RETURN_IF_ERROR(be.matmul(s.h, *L.w_gate, nullptr, s.gate, n));
    RINGLM_RETURN_IF_ERROR(be.matmul(s.h, *L.w_up, nullptr, s.up, n));
    // x += swiglu(gate, up) W_down^T
    RINGLM_RETURN_IF_ERROR(be.swiglu_matmul_add(s.gate, s.up, *L.w_down, s.x, n));
  }
  if (logit_rows.empty()) return Status::Ok();
  // Logits only for the requested rows: gather them, norm, project.
  const int64_t rows = int64_t(logit_rows.size());
  for (int64_t i = 0; i < rows; ++i)
    RINGLM_RETURN_IF_ERROR(
        be.copy(s.h + i * c.dim, s.x + logit_rows[i] * c.dim, sizeof(float) * c.dim));
  RINGLM_RETURN_IF_ERROR(be.rmsnorm(s.h, output_norm_.as<float>(), s.h, rows, c.dim, c.rms_eps));
  RINGLM_ASSIGN_OR_RETURN(Buffer out, be.alloc(sizeof(float) * rows * c.vocab));
  const Weight& head = output_ ? *output_ : *tok_embd_;
  RINGLM_RETURN_IF_ERROR(be.matmul(s.h, head, nullptr, out.as<float>(), rows));
  return be.copy_to_host(logits, out.data(), sizeof(float) * rows * c.vocab);
}

}  // namespace ringlm
