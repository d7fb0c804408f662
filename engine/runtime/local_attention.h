// LocalAttention: a layer's attention on one device over the paged KV store.
//
// The new tokens' K/V are written into slots already appended to the
// sequence; the queries then attend to every span of the sequence (cached and
// new) with the partial-attention primitive, and the partials are merged by
// their LSE — the same primitive and merge the CP ring uses. For batches of
// kGatherRows rows or more the sequence is first gathered contiguous: one
// attention call then replaces one merge of [n, hq, d] per page, which costs
// more than the copy once n is that large. Below that, a backend with
// attention over several key blocks (CUDA) takes all pages in one call.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "kv/kv_store.h"
#include "model/llama_model.h"

namespace ringlm {

class LocalAttention final : public LayerAttention {
 public:
  // `q_pos` ([n], backend memory) are the positions of the batch rows and
  // `q_pos_host` ([n], host memory) the same values; rows with position < 0
  // are padding and are not stored. The real rows must be the first
  // `n_store` rows, stored at slots [first_slot, first_slot + n_store).
  // Every call passes the host copies of the positions along
  // (AttentionParams::q_pos_host / k_pos_host), so a device backend plans
  // without reading positions back.
  LocalAttention(Backend& be, KvStore& kv, SeqId seq, const ModelConfig& cfg, const int32_t* q_pos,
                 const int32_t* q_pos_host, int64_t n, int64_t first_slot, int64_t n_store);

  Status attend(int layer, const float* q, const float* k, const float* v, float* out) override;

  static constexpr int64_t kGatherRows = 64;

 private:
  Status attend_gathered(int layer, kernels::AttentionParams& p);

  Backend& be_;
  KvStore& kv_;
  SeqId seq_;
  const ModelConfig& cfg_;
  const int32_t* q_pos_;
  const int32_t* q_pos_host_;
  int64_t n_, first_slot_, n_store_;
  std::vector<int32_t> k_pos_host_;  // the sequence's positions in slot order (fixed within a step)
  Buffer tmp_;     // partial out [n, hq, d] + lse [n, hq] x2 (accumulator and block)
  Buffer gather_;  // k, v [len, hkv, d] and pos [len] of the whole sequence
};

}  // namespace ringlm
