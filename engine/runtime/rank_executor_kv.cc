// RankExecutor: moving KV shards between the ranks and the leader (session
// save and restore), in bounded pieces (runtime/kv_transfer.h).
#include <algorithm>

#include "kv/paged_kv_store.h"
#include "runtime/rank_executor.h"

namespace ringlm {
namespace {

// A plan carrying the leader's piece size (and, for imports, the shard sizes).
std::vector<uint8_t> kv_plan(fb::StepKind kind, SeqId seq, size_t piece,
                             std::span<const std::span<const uint8_t>> shards = {}) {
  std::vector<uint64_t> sizes;
  for (const auto& s : shards) sizes.push_back(s.size());
  flatbuffers::FlatBufferBuilder b;
  auto sb = b.CreateVector(sizes);
  fb::StepPlanBuilder p(b);
  p.add_kind(kind);
  p.add_seq(seq);
  p.add_shard_bytes(sb);
  p.add_kv_piece_bytes(piece);
  fb::FinishStepPlanBuffer(b, p.Finish());
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

}  // namespace

StepOutcome RankExecutor::lead_export(SeqId seq) {
  return lead(kv_plan(fb::StepKind::ExportKv, seq, cfg_.kv_piece_bytes));
}

StepOutcome RankExecutor::export_kv(const fb::StepPlan& plan) {
  StepOutcome out;
  std::vector<uint8_t> blob;
  Status local = kv_.write_state(plan.seq(), &blob);
  StepReport r;
  r.kv_tokens = kv_.length(plan.seq());
  r.bytes_sent = blob.size();  // the shard size: every rank learns every size here
  out.status = agree(r, &out.reports, local);
  if (!out.status.ok()) return out;
  std::vector<size_t> sizes;
  for (const StepReport& rep : out.reports) sizes.push_back(size_t(rep.bytes_sent));
  // The leader's own blob becomes its shard without a copy; the others
  // arrive straight into theirs.
  out.status = gather_kv_shards(comm_, std::move(blob), sizes,
                                kv_piece_bytes_or_default(plan.kv_piece_bytes()), &out.shards);
  return out;
}

StepOutcome RankExecutor::lead_import(SeqId seq, std::span<const std::span<const uint8_t>> shards) {
  StepOutcome out;
  if (int(shards.size()) != world_size()) {
    out.status = InvalidArgument("kv import: one shard per rank needed");
    return out;
  }
  std::vector<uint8_t> plan = kv_plan(fb::StepKind::ImportKv, seq, cfg_.kv_piece_bytes, shards);
  std::lock_guard<std::mutex> l(lead_mu_);  // as lead()
  last_plan_ = std::chrono::steady_clock::now();
  comm_.set_timeout(cfg_.step_timeout);
  data_.set_timeout(cfg_.step_timeout);
  out.status = comm_.broadcast_bytes(plan, 0);
  if (!out.status.ok()) return out;
  // The followers' shards go out from the caller's buffers; the leader's
  // own is read where it is.
  const fb::StepPlan& p = *fb::GetStepPlan(plan.data());
  std::vector<size_t> sizes;
  for (const auto& s : shards) sizes.push_back(s.size());
  out.status = scatter_kv_shards(comm_, shards, sizes,
                                 kv_piece_bytes_or_default(p.kv_piece_bytes()), nullptr);
  if (!out.status.ok()) return out;
  out = import_kv(p, &shards[0]);
  last_plan_ = std::chrono::steady_clock::now();  // followers heard the step's end too
  return out;
}

StepOutcome RankExecutor::import_kv(const fb::StepPlan& plan,
                                    const std::span<const uint8_t>* mine) {
  StepOutcome out;
  std::vector<uint8_t> received;
  std::span<const uint8_t> shard;
  if (mine) {
    shard = *mine;
  } else {  // follower: receive this rank's shard from the leader
    const auto* s = plan.shard_bytes();
    std::vector<size_t> sizes(size_t(world_size()), 0);
    if (s && int(s->size()) == world_size()) {
      for (int r = 0; r < world_size(); ++r) sizes[size_t(r)] = size_t(s->Get(r));
    }
    out.status = scatter_kv_shards(comm_, {}, sizes,
                                   kv_piece_bytes_or_default(plan.kv_piece_bytes()), &received);
    if (!out.status.ok()) return out;
    shard = received;
  }
  Status local = kv_.read_state(plan.seq(), shard);
  StepReport r;
  r.kv_tokens = kv_.length(plan.seq());
  if (local.code() == StatusCode::kResourceExhausted) {
    // A shard larger than this rank's whole budget: no eviction makes room.
    auto pos = paged_kv_state_positions(shard);
    if (pos.ok()) report_beyond_budget(int64_t(pos->size()), &r);
  }
  // The received blob is in the store now (or refused): freed before the
  // agreement, which may wait on slower ranks.
  std::vector<uint8_t>().swap(received);
  out.status = agree(r, &out.reports, local);
  if (!out.status.ok() && local.ok()) (void)kv_.drop(plan.seq());
  return out;
}

}  // namespace ringlm
