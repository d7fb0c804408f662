// RankExecutor: one rank's side of the SPMD control plane.
//
// The leader (rank 0) builds a StepPlan per step, broadcasts it, and every
// rank (the leader included) executes it with execute(). Followers sit in
// serve(), receiving plans until Shutdown or a lost leader. A step is
// all-or-nothing: its KV appends are rolled back on every rank when any rank
// fails, so a failed request leaves every session as it was.
//
// Threads: one thread drives a RankExecutor (the rank's thread; for the
// leader, whichever host thread holds the engine's request lock).
#pragma once

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "comm/comm.h"
#include "cp/policy.h"
#include "cp/sharding.h"
#include "kv/kv_store.h"
#include "model/llama_model.h"
#include "ringlm/step_plan_generated.h"
#include "runtime/cp_attention.h"
#include "runtime/kv_transfer.h"

namespace ringlm {

// What one rank reports after a step (fixed layout: travels in an all_gather).
struct StepReport {
  int32_t code = 0;            // StatusCode
  int32_t variant = 0;         // CpVariant used (prefill) or DecodeVariant (decode)
  int64_t kv_tokens = 0;       // this rank's KV tokens of the sequence after the step
  uint64_t kv_bytes = 0;       // bytes this rank's KV store holds (all sequences)
  uint64_t bytes_sent = 0;     // ring + collective payload bytes sent during the step
  double compute_ms = 0;       // attention compute inside the ring
  double comm_exposed_ms = 0;  // waiting on transfers after compute was done
  double comm_total_ms = 0;    // wall time of transfers
  double step_ms = 0;          // the whole step on this rank
  // Set when the step's appends would take the sequence beyond this rank's
  // whole KV budget (KvStore::capacity_tokens()), so evicting other
  // sequences cannot make room: the tokens it would hold, and the capacity.
  int64_t kv_needed = 0;
  int64_t kv_capacity = 0;
};

// The first rank whose report says the step needs more KV than its whole
// budget holds (StepReport::kv_needed), or -1.
int rank_beyond_kv_budget(const std::vector<StepReport>& reports);
// kResourceExhausted naming that rank, its need and its budget ("no eviction
// can make room"); Ok when no rank reports one.
Status kv_beyond_budget_status(const std::vector<StepReport>& reports);

struct StepOutcome {
  Status status;
  std::vector<StepReport> reports;           // [N], one per rank (every rank gets all)
  std::vector<float> logits;                 // [vocab] when the plan asked for logits
  std::vector<std::vector<uint8_t>> shards;  // ExportKv, leader: every rank's KV shard
};

// A leader timeout that never runs out in practice (a year).
inline constexpr std::chrono::milliseconds kNoLeaderTimeout{std::chrono::hours(24 * 365)};

struct RankConfig {
  std::chrono::milliseconds step_timeout{60000};
  // Followers: how long serve() waits for the next plan (steps and
  // heartbeats) before it leaves the group (EngineOptions::leader_timeout).
  std::chrono::milliseconds leader_timeout{60000};
  // Leader: the most bytes one collective of a KV export or import moves
  // (sent to every rank in the plan; runtime/kv_transfer.h).
  size_t kv_piece_bytes = kKvPieceBytes;
};

class RankExecutor {
 public:
  // `comm` carries the control plane (host memory); `data` carries the ring
  // (the same Comm, or an NcclComm between GPU ranks).
  RankExecutor(Backend& backend, const LlamaModel& model, KvStore& kv, Comm& comm, Comm& data,
               RankConfig cfg);

  int rank() const { return comm_.rank(); }
  int world_size() const { return comm_.size(); }
  KvStore& kv() { return kv_; }
  RankConfig& config() { return cfg_; }

  // Leader only: broadcasts `plan` (a finished StepPlan buffer) and executes it.
  StepOutcome lead(std::vector<uint8_t> plan);
  // Leader only: unless a plan went out within `quiet`, broadcasts a
  // Heartbeat, which followers take as word from the leader. Waits for a
  // step in progress; safe from another thread than the one leading steps.
  Status heartbeat(std::chrono::milliseconds quiet);
  // Leader only: ExportKv of sequence `seq`; the outcome's shards hold every
  // rank's write_state() blob, moved in pieces of config().kv_piece_bytes.
  StepOutcome lead_export(SeqId seq);
  // Leader only: ImportKv of `shards[r]` into rank r's store as sequence
  // `seq`, moved in pieces of config().kv_piece_bytes. The shards are read
  // in place (no copy); they must stay valid until the call returns.
  StepOutcome lead_import(SeqId seq, std::span<const std::span<const uint8_t>> shards);
  // Followers: receive and execute plans until Shutdown (Ok), a comm error,
  // or kUnavailable after config().leader_timeout without a plan.
  Status serve();

 private:
  StepOutcome execute(const fb::StepPlan& plan);
  StepOutcome prefill(const fb::StepPlan& plan);
  StepOutcome decode(const fb::StepPlan& plan);
  StepOutcome export_kv(const fb::StepPlan& plan);
  // `mine`: the leader's own shard; null on the other ranks, which receive theirs.
  StepOutcome import_kv(const fb::StepPlan& plan, const std::span<const uint8_t>* mine);
  Status truncate_to(SeqId seq, int32_t keep_positions);
  // How many of the sequence's slots hold positions below `keep_positions`:
  // a rank's shard holds increasing positions (sharding.h), so a prefix.
  int64_t slots_below(SeqId seq, int32_t keep_positions) const;
  // CopyKv: this rank's shard of plan.seq() (its positions below
  // plan.keep_positions()) copied as plan.target_seq(), sharing its pages
  // (copy-on-write, KvStore::copy), undone on every rank unless all succeed.
  StepOutcome copy_kv(const fb::StepPlan& plan);
  // all_gather of the reports; the first failing rank's status (if any) wins.
  Status agree(StepReport mine, std::vector<StepReport>* all, const Status& local);
  uint64_t bytes_sent() const;
  // The end of a step's reservation phase: the ranks agree that every KV
  // append worked (else each rolls its own back, and out->status says why).
  // `len_after`: the sequence's length here once the step's appends are in
  // (reported when it exceeds the whole KV budget).
  void agree_reservation(SeqId seq, int64_t len_before, int64_t len_after, const Status& local,
                         StepOutcome* out);
  // Every rank's query and KV shard positions of a prefill step on the host
  // (one all_gather of the shards' positions padded to kv_cap), so the ring
  // reads no position back from backend memory. Collective.
  Result<RingPositions> ring_positions(SeqId seq, const ShardPlan& shard, int64_t kv_cap);
  // After the layers: a local failure before the last layer's attention
  // left the peers inside the step's exchanges; the comms are aborted.
  void abandon_if_midway(const Status& local, const CpAttentionBase& attn);
  // Fills r's kv_needed / kv_capacity when the sequence would hold `tokens`,
  // more than this rank's whole KV budget.
  void report_beyond_budget(int64_t tokens, StepReport* r) const;

  Backend& be_;
  const LlamaModel& model_;
  KvStore& kv_;
  Comm& comm_;
  Comm& data_;
  RankConfig cfg_;
  ForwardScratch scratch_;
  // Leader: held while a plan is broadcast and executed (lead, lead_import,
  // heartbeat), with the time the last plan went out.
  std::mutex lead_mu_;
  std::chrono::steady_clock::time_point last_plan_{};
};

// Builders for the leader's plans.
std::vector<uint8_t> make_step_plan(fb::StepKind kind, SeqId seq,
                                    std::span<const int32_t> tokens = {}, int32_t start_pos = 0,
                                    CpVariant variant = CpVariant::kAuto, int32_t decode_owner = 0,
                                    int32_t keep_positions = 0, bool want_logits = false,
                                    DecodeVariant decode_variant = DecodeVariant::kAllGather);
// CopyKv of sequence `seq`'s positions below `keep_positions` (all by
// default) into the new sequence `target`.
std::vector<uint8_t> make_copy_plan(SeqId seq, SeqId target,
                                    int32_t keep_positions = INT32_MAX);

}  // namespace ringlm
