// RankExecutor: moving KV shards between the ranks and the leader (session
// save and restore).
#include <algorithm>

#include "kv/paged_kv_store.h"
#include "runtime/rank_executor.h"

namespace ringlm {

StepOutcome RankExecutor::export_kv(const fb::StepPlan& plan) {
  StepOutcome out;
  std::vector<uint8_t> blob;
  Status local = kv_.write_state(plan.seq(), &blob);
  StepReport r;
  r.kv_tokens = kv_.length(plan.seq());
  r.bytes_sent = blob.size();  // the shard size, for the leader's receive sizes
  out.status = agree(r, &out.reports, local);
  if (!out.status.ok()) return out;
  // Every rank sends its shard to the leader only.
  const int n = world_size();
  std::vector<size_t> send(n, 0), recv(n, 0);
  send[0] = blob.size();
  size_t total = 0;
  if (rank() == 0) {
    for (int i = 0; i < n; ++i) total += recv[i] = out.reports[i].bytes_sent;
  }
  std::vector<uint8_t> all(std::max<size_t>(total, 1));
  out.status = comm_.all_to_allv(blob.data(), send, all.data(), recv);
  if (!out.status.ok()) return out;
  if (rank() == 0) {
    size_t off = 0;
    for (int i = 0; i < n; ++i) {
      out.shards.emplace_back(all.begin() + off, all.begin() + off + recv[i]);
      off += recv[i];
    }
  }
  // The followers wait out the leader's copy here, under the step's deadline:
  // back in serve() a long copy would run down their leader timeout.
  out.status = comm_.barrier();
  if (!out.status.ok()) out.shards.clear();
  return out;
}

StepOutcome RankExecutor::lead_import(SeqId seq, const std::vector<std::vector<uint8_t>>& shards) {
  StepOutcome out;
  if (int(shards.size()) != world_size()) {
    out.status = InvalidArgument("kv import: one shard per rank needed");
    return out;
  }
  std::vector<uint64_t> sizes;
  for (const auto& s : shards) sizes.push_back(s.size());
  flatbuffers::FlatBufferBuilder b;
  auto sb = b.CreateVector(sizes);
  fb::StepPlanBuilder p(b);
  p.add_kind(fb::StepKind::ImportKv);
  p.add_seq(seq);
  p.add_shard_bytes(sb);
  fb::FinishStepPlanBuffer(b, p.Finish());
  std::vector<uint8_t> plan(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  std::lock_guard<std::mutex> l(lead_mu_);
  last_plan_ = std::chrono::steady_clock::now();
  comm_.set_timeout(cfg_.step_timeout);
  out.status = comm_.broadcast_bytes(plan, 0);
  if (!out.status.ok()) return out;
  // The leader's shards travel in rank order; its own stays here.
  std::vector<uint8_t> packed;
  for (int r = 1; r < world_size(); ++r)
    packed.insert(packed.end(), shards[r].begin(), shards[r].end());
  std::vector<size_t> send(world_size(), 0), recv(world_size(), 0);
  for (int r = 1; r < world_size(); ++r) send[r] = shards[r].size();
  uint8_t dummy = 0;
  out.status = comm_.all_to_allv(packed.empty() ? &dummy : packed.data(), send, &dummy, recv);
  if (!out.status.ok()) return out;
  return import_kv(*fb::GetStepPlan(plan.data()), &shards[0]);
}

StepOutcome RankExecutor::import_kv(const fb::StepPlan& plan, const std::vector<uint8_t>* mine) {
  StepOutcome out;
  std::vector<uint8_t> received;
  if (!mine) {  // follower: receive this rank's shard from the leader
    const auto* sizes = plan.shard_bytes();
    const int n = world_size();
    std::vector<size_t> send(n, 0), recv(n, 0);
    if (sizes && int(sizes->size()) == n) recv[0] = sizes->Get(rank());
    received.resize(std::max<size_t>(recv[0], 1));
    uint8_t dummy = 0;
    out.status = comm_.all_to_allv(&dummy, send, received.data(), recv);
    if (!out.status.ok()) return out;
    received.resize(recv[0]);
    mine = &received;
  }
  Status local = kv_.read_state(plan.seq(), *mine);
  StepReport r;
  r.kv_tokens = kv_.length(plan.seq());
  if (local.code() == StatusCode::kResourceExhausted) {
    // A shard larger than this rank's whole budget: no eviction makes room.
    auto pos = paged_kv_state_positions(*mine);
    if (pos.ok()) report_beyond_budget(int64_t(pos->size()), &r);
  }
  out.status = agree(r, &out.reports, local);
  if (!out.status.ok() && local.ok()) (void)kv_.drop(plan.seq());
  return out;
}

}  // namespace ringlm
