#include "runtime/cp_attention.h"

#include <cmath>

namespace ringlm {

CpAttentionBase::CpAttentionBase(Backend& be, KvStore& kv, Comm& comm, SeqId seq,
                                 const ModelConfig& cfg, const int32_t* q_pos, int64_t n,
                                 int64_t first_slot, int64_t n_store, int64_t kv_cap,
                                 RingWorkspace& ws)
    : be_(be),
      kv_(kv),
      comm_(comm),
      seq_(seq),
      cfg_(cfg),
      q_pos_(q_pos),
      n_(n),
      first_slot_(first_slot),
      n_store_(n_store),
      kv_cap_(std::max<int64_t>(kv_cap, 1)),
      ws_(ws) {}

size_t CpAttentionBase::shard_bytes() const {
  return size_t(kv_cap_) * (2 * kv_.shape().token_bytes() + sizeof(int32_t));
}

Status CpAttentionBase::store_and_gather(int layer, const float* k, const float* v,
                                         RingAttentionArgs* a) {
  if (n_store_ > 0) RINGLM_RETURN_IF_ERROR(kv_.write(seq_, layer, first_slot_, k, v, n_store_));
  const int64_t tb = kv_.shape().token_bytes();
  RINGLM_ASSIGN_OR_RETURN(uint8_t* shard,
                          ws_.backend_buffer(be_, RingWorkspace::kShard, shard_bytes()));
  char* kb = reinterpret_cast<char*>(shard);
  char* vb = kb + kv_cap_ * tb;
  int32_t* pb = reinterpret_cast<int32_t*>(vb + kv_cap_ * tb);
  RINGLM_RETURN_IF_ERROR(kv_.gather(seq_, layer, kb, vb, pb, kv_cap_));
  *a = query_args();
  a->k = kb;
  a->v = vb;
  a->k_pos = pb;
  a->tk = kv_cap_;
  return Status::Ok();
}

RingAttentionArgs CpAttentionBase::query_args() const {
  RingAttentionArgs a;
  a.q_pos = q_pos_;
  a.tq = n_;
  a.hq = cfg_.n_heads;
  a.hkv = cfg_.n_kv_heads;
  a.d = cfg_.head_dim;
  a.scale = 1.f / std::sqrt(float(cfg_.head_dim));
  a.kv = kv_.shape().type;
  a.workspace = &ws_;
  return a;
}

Status CpPrefillAttention::reserve() {
  RINGLM_RETURN_IF_ERROR(ws_.backend_buffer(be_, RingWorkspace::kShard, shard_bytes()).status());
  RingAttentionArgs a = query_args();
  a.tk = kv_cap_;
  if (variant_ == CpVariant::kPassQ) return reserve_ring_pass_q(comm_, be_, a);
  return reserve_ring_pass_kv(comm_, be_, a);
}

bool CpDecodeAttention::gathers_shard(const Backend& be, const Comm& comm, DecodeVariant variant) {
  return !(be.has_attention_blocks() && (variant != DecodeVariant::kRingPassQ || comm.size() == 1));
}

Status CpDecodeAttention::reserve() {
  const bool gathers = gathers_shard(be_, comm_, variant_);
  if (gathers)
    RINGLM_RETURN_IF_ERROR(ws_.backend_buffer(be_, RingWorkspace::kShard, shard_bytes()).status());
  RingAttentionArgs a = query_args();
  a.tk = kv_cap_;
  return reserve_cp_decode(comm_, be_, a, variant_, !gathers);
}

Status CpPrefillAttention::attend(int layer, const float* q, const float* k, const float* v,
                                  float* out) {
  RingAttentionArgs a;
  RINGLM_RETURN_IF_ERROR(store_and_gather(layer, k, v, &a));
  a.q = q;
  a.q_pos_by_rank = positions_.q;
  a.k_pos_by_rank = positions_.k;
  RINGLM_RETURN_IF_ERROR(variant_ == CpVariant::kPassQ ? ring_pass_q(comm_, be_, a, out, &stats_)
                                                       : ring_pass_kv(comm_, be_, a, out, &stats_));
  ++attended_;
  return Status::Ok();
}

Status CpDecodeAttention::attend(int layer, const float* q, const float* k, const float* v,
                                 float* out) {
  if (!gathers_shard(be_, comm_, variant_)) {
    // All-gather decode straight over the KV pages: no gather of the shard.
    if (n_store_ > 0) RINGLM_RETURN_IF_ERROR(kv_.write(seq_, layer, first_slot_, k, v, n_store_));
    RingAttentionArgs a = query_args();
    a.q = q;
    const std::vector<KvSpan> spans = kv_.spans(seq_, layer);
    RINGLM_RETURN_IF_ERROR(cp_decode_attention_blocks(comm_, be_, a, spans, out, &stats_));
    ++attended_;
    return Status::Ok();
  }
  RingAttentionArgs a;
  RINGLM_RETURN_IF_ERROR(store_and_gather(layer, k, v, &a));
  a.q = q;
  RINGLM_RETURN_IF_ERROR(cp_decode_attention(comm_, be_, a, out, &stats_, variant_));
  ++attended_;
  return Status::Ok();
}

}  // namespace ringlm
