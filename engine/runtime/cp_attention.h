// LayerAttention implementations for context parallelism: the rank's new
// K/V go into its KV shard, the shard is gathered contiguous (padded to the
// largest shard, so ring messages are equal-sized), and the ring of
// cp/ring_attention.h computes the attention over all ranks' shards.
//
// Memory: the gathered shard and every buffer of the ring come from the
// step's RingWorkspace. reserve() takes all of it for the step's shapes;
// called before the ranks agree to run the step, it leaves the layers
// nothing to allocate in the ring (runtime/rank_executor.cc).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "comm/comm.h"
#include "cp/policy.h"
#include "cp/ring_attention.h"
#include "cp/ring_workspace.h"
#include "kv/kv_store.h"
#include "model/llama_model.h"

namespace ringlm {

// Shared part: the gathered shard of one layer.
class CpAttentionBase : public LayerAttention {
 public:
  const RingStats& stats() const { return stats_; }
  // Takes from the workspace everything attend() will take over the layers.
  virtual Status reserve() = 0;
  // Layers whose attention (and so whose exchanges with the peers) completed.
  int layers_attended() const { return attended_; }

 protected:
  CpAttentionBase(Backend& be, KvStore& kv, Comm& comm, SeqId seq, const ModelConfig& cfg,
                  const int32_t* q_pos, int64_t n, int64_t first_slot, int64_t n_store,
                  int64_t kv_cap, RingWorkspace& ws);
  // Stores this step's K/V rows and gathers the layer's shard (workspace slot
  // kShard) into args' k, v, k_pos (tk = kv_cap).
  Status store_and_gather(int layer, const float* k, const float* v, RingAttentionArgs* args);
  size_t shard_bytes() const;
  // The query side and shapes of this step's ring arguments (no q, no KV),
  // with the workspace.
  RingAttentionArgs query_args() const;

  Backend& be_;
  KvStore& kv_;
  Comm& comm_;
  SeqId seq_;
  const ModelConfig& cfg_;
  const int32_t* q_pos_;
  int64_t n_, first_slot_, n_store_, kv_cap_;
  RingWorkspace& ws_;  // kShard: k [cap, hkv, d], v [cap, hkv, d], pos [cap]
  RingStats stats_;
  int attended_ = 0;
};

// Host copies of every rank's positions in a prefill step, indexed by rank:
// its query rows [n] and its gathered KV shard [kv_cap] (slot order, then -1
// padding). The same for every layer of the step.
struct RingPositions {
  std::vector<std::vector<int32_t>> q;
  std::vector<std::vector<int32_t>> k;
};

// Prefill of a turn's local rows (q_pos [n], padding rows last) with pass-KV
// or pass-Q. With positions (set_positions, non-empty) the ring reads no
// position back from backend memory.
class CpPrefillAttention final : public CpAttentionBase {
 public:
  CpPrefillAttention(Backend& be, KvStore& kv, Comm& comm, SeqId seq, const ModelConfig& cfg,
                     CpVariant variant, const int32_t* q_pos, int64_t n, int64_t first_slot,
                     int64_t n_store, int64_t kv_cap, RingWorkspace& ws)
      : CpAttentionBase(be, kv, comm, seq, cfg, q_pos, n, first_slot, n_store, kv_cap, ws),
        variant_(variant) {}
  void set_positions(RingPositions positions) { positions_ = std::move(positions); }
  Status reserve() override;
  Status attend(int layer, const float* q, const float* k, const float* v, float* out) override;

 private:
  CpVariant variant_;
  RingPositions positions_;
};

// Decode of one token computed identically on every rank; only `owner`
// stores its K/V. On a backend with attention over key blocks the
// all-gather variant reads the shard's pages in place (no gather).
class CpDecodeAttention final : public CpAttentionBase {
 public:
  CpDecodeAttention(Backend& be, KvStore& kv, Comm& comm, SeqId seq, const ModelConfig& cfg,
                    DecodeVariant variant, const int32_t* q_pos, bool owner, int64_t first_slot,
                    int64_t kv_cap, RingWorkspace& ws)
      : CpAttentionBase(be, kv, comm, seq, cfg, q_pos, 1, first_slot, owner ? 1 : 0, kv_cap, ws),
        variant_(variant) {}
  // Whether attend() gathers the shard (and so needs kv_cap, the largest
  // shard over the ranks); otherwise kv_cap is not used.
  static bool gathers_shard(const Backend& be, const Comm& comm, DecodeVariant variant);
  Status reserve() override;
  Status attend(int layer, const float* q, const float* k, const float* v, float* out) override;

 private:
  DecodeVariant variant_;
};

}  // namespace ringlm
