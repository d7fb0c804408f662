#include "runtime/local_attention.h"

#include <cmath>

namespace ringlm {

LocalAttention::LocalAttention(Backend& be, KvStore& kv, SeqId seq, const ModelConfig& cfg,
                               const int32_t* q_pos, const int32_t* q_pos_host, int64_t n,
                               int64_t first_slot, int64_t n_store)
    : be_(be),
      kv_(kv),
      seq_(seq),
      cfg_(cfg),
      q_pos_(q_pos),
      q_pos_host_(q_pos_host),
      n_(n),
      first_slot_(first_slot),
      n_store_(n_store) {}

Status LocalAttention::attend(int layer, const float* q, const float* k, const float* v,
                              float* out) {
  RINGLM_RETURN_IF_ERROR(kv_.write(seq_, layer, first_slot_, k, v, n_store_));
  if (k_pos_host_.empty()) k_pos_host_ = kv_.positions(seq_);
  const int hq = cfg_.n_heads, d = cfg_.head_dim;
  const int64_t out_floats = n_ * hq * d, lse_floats = n_ * hq;
  if (!tmp_.data()) {
    RINGLM_ASSIGN_OR_RETURN(tmp_, be_.alloc(sizeof(float) * (2 * lse_floats + out_floats)));
  }
  float* acc_lse = tmp_.as<float>();
  float* blk_lse = acc_lse + lse_floats;
  float* blk_out = blk_lse + lse_floats;

  kernels::AttentionParams p;
  p.q = q;
  p.q_pos = q_pos_;
  p.q_pos_host = q_pos_host_;
  p.tq = n_;
  p.hq = hq;
  p.hkv = cfg_.n_kv_heads;
  p.d = d;
  p.scale = 1.f / std::sqrt(float(d));
  p.causal = true;
  p.kv = kv_.shape().type;
  p.out = out;
  p.lse = acc_lse;
  if (n_ >= kGatherRows) return attend_gathered(layer, p);
  if (be_.has_attention_blocks()) {  // one call over the pages
    const std::vector<KvSpan> spans = kv_.spans(seq_, layer);
    if (spans.empty()) return Internal("attention over an empty KV sequence");
    return be_.attention_partial_blocks(p, spans.data(), spans.size());
  }
  bool first = true;
  int64_t slot = 0;  // first slot of the span
  for (const KvSpan& sp : kv_.spans(seq_, layer)) {
    p.k = sp.k;
    p.v = sp.v;
    p.k_pos = sp.pos;
    p.k_pos_host = k_pos_host_.data() + slot;
    p.tk = sp.n;
    slot += sp.n;
    // [n, hq, d] partial over this span, merged into the accumulator by LSE.
    p.out = first ? out : blk_out;
    p.lse = first ? acc_lse : blk_lse;
    RINGLM_RETURN_IF_ERROR(be_.attention_partial(p));
    if (!first) {
      kernels::MergeParams m{out, acc_lse, blk_out, blk_lse, lse_floats, d};
      RINGLM_RETURN_IF_ERROR(be_.merge_partials(m));
    }
    first = false;
  }
  if (first) return Internal("attention over an empty KV sequence");
  return Status::Ok();
}

Status LocalAttention::attend_gathered(int layer, kernels::AttentionParams& p) {
  const int64_t len = kv_.length(seq_), tb = kv_.shape().token_bytes();
  const size_t bytes = size_t(len * (2 * tb + int64_t(sizeof(int32_t))));
  if (gather_.bytes() < bytes) {
    RINGLM_ASSIGN_OR_RETURN(gather_, be_.alloc(bytes));
  }
  char* k = gather_.as<char>();
  char* v = k + len * tb;
  int32_t* pos = reinterpret_cast<int32_t*>(v + len * tb);
  RINGLM_RETURN_IF_ERROR(kv_.gather(seq_, layer, k, v, pos, len));
  p.k = k;
  p.v = v;
  p.k_pos = pos;
  p.k_pos_host = k_pos_host_.data();  // gathered in slot order
  p.tk = len;
  return be_.attention_partial(p);
}

}  // namespace ringlm
