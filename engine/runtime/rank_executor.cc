#include "runtime/rank_executor.h"

#include <algorithm>
#include <optional>

#include "core/timer.h"
#include "cp/sharding.h"
#include "runtime/cp_attention.h"
#include "runtime/local_attention.h"

namespace ringlm {
namespace {

CpVariant from_fb(fb::RingVariant v) {
  switch (v) {
    case fb::RingVariant::PassKV:
      return CpVariant::kPassKV;
    case fb::RingVariant::PassQ:
      return CpVariant::kPassQ;
    default:
      return CpVariant::kAuto;
  }
}

fb::RingVariant to_fb(CpVariant v) {
  switch (v) {
    case CpVariant::kPassKV:
      return fb::RingVariant::PassKV;
    case CpVariant::kPassQ:
      return fb::RingVariant::PassQ;
    default:
      return fb::RingVariant::Auto;
  }
}

}  // namespace

std::vector<uint8_t> make_step_plan(fb::StepKind kind, SeqId seq, std::span<const int32_t> tokens,
                                    int32_t start_pos, CpVariant variant, int32_t decode_owner,
                                    int32_t keep_positions, bool want_logits,
                                    DecodeVariant decode_variant) {
  flatbuffers::FlatBufferBuilder b(256 + tokens.size() * 4);
  auto toks = b.CreateVector(tokens.data(), tokens.size());
  fb::StepPlanBuilder p(b);
  p.add_kind(kind);
  p.add_seq(seq);
  p.add_tokens(toks);
  p.add_start_pos(start_pos);
  p.add_variant(to_fb(variant));
  p.add_decode_owner(decode_owner);
  p.add_keep_positions(keep_positions);
  p.add_want_logits(want_logits);
  p.add_decode_variant(decode_variant == DecodeVariant::kRingPassQ ? fb::DecodeVariant::RingPassQ
                                                                   : fb::DecodeVariant::AllGather);
  fb::FinishStepPlanBuffer(b, p.Finish());
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

std::vector<uint8_t> make_copy_plan(SeqId seq, SeqId target, int32_t keep_positions) {
  flatbuffers::FlatBufferBuilder b(128);
  fb::StepPlanBuilder p(b);
  p.add_kind(fb::StepKind::CopyKv);
  p.add_seq(seq);
  p.add_target_seq(target);
  p.add_keep_positions(keep_positions);
  fb::FinishStepPlanBuffer(b, p.Finish());
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

int rank_beyond_kv_budget(const std::vector<StepReport>& reports) {
  for (size_t r = 0; r < reports.size(); ++r)
    if (reports[r].kv_needed > 0) return int(r);
  return -1;
}

Status kv_beyond_budget_status(const std::vector<StepReport>& reports) {
  const int r = rank_beyond_kv_budget(reports);
  if (r < 0) return Status::Ok();
  const StepReport& rep = reports[size_t(r)];
  return ResourceExhausted("the session's KV on rank " + std::to_string(r) + " would hold " +
                           std::to_string(rep.kv_needed) + " tokens, more than its KV budget " +
                           "holds (" + std::to_string(rep.kv_capacity) +
                           " tokens): no eviction can make room");
}

RankExecutor::RankExecutor(Backend& backend, const LlamaModel& model, KvStore& kv, Comm& comm,
                           Comm& data, RankConfig cfg)
    : be_(backend), model_(model), kv_(kv), comm_(comm), data_(data), cfg_(cfg) {}

uint64_t RankExecutor::bytes_sent() const {
  return comm_.bytes_sent() + (&data_ != &comm_ ? data_.bytes_sent() : 0);
}

StepOutcome RankExecutor::lead(std::vector<uint8_t> plan) {
  std::lock_guard<std::mutex> l(lead_mu_);
  StepOutcome out;
  comm_.set_timeout(cfg_.step_timeout);
  data_.set_timeout(cfg_.step_timeout);
  last_plan_ = std::chrono::steady_clock::now();
  out.status = comm_.broadcast_bytes(plan, 0);
  if (!out.status.ok()) return out;
  out = execute(*fb::GetStepPlan(plan.data()));
  last_plan_ = std::chrono::steady_clock::now();  // followers heard the step's end too
  return out;
}

Status RankExecutor::heartbeat(std::chrono::milliseconds quiet) {
  std::lock_guard<std::mutex> l(lead_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now - last_plan_ < quiet) return Status::Ok();
  comm_.set_timeout(cfg_.step_timeout);
  std::vector<uint8_t> plan = make_step_plan(fb::StepKind::Heartbeat, 0);
  last_plan_ = now;
  return comm_.broadcast_bytes(plan, 0).WithContext("heartbeat");
}

Status RankExecutor::serve() {
  for (;;) {
    std::vector<uint8_t> bytes;
    // Between requests an idle leader sends heartbeats; one silent for the
    // leader timeout is gone (a host that vanished without closing its
    // connections, or a stopped process).
    comm_.set_timeout(cfg_.leader_timeout);
    Status st = comm_.broadcast_bytes(bytes, 0);
    comm_.set_timeout(cfg_.step_timeout);
    data_.set_timeout(cfg_.step_timeout);
    if (st.code() == StatusCode::kDeadlineExceeded) {
      return Unavailable("rank " + std::to_string(rank()) + ": no word from the leader for " +
                         std::to_string(cfg_.leader_timeout.count()) +
                         " ms (its host is gone or stopped): " + st.message());
    }
    if (!st.ok()) return st.WithContext("rank " + std::to_string(rank()) + " waiting for a step");
    flatbuffers::Verifier v(bytes.data(), bytes.size());
    if (!fb::VerifyStepPlanBuffer(v)) return CorruptData("malformed step plan from the leader");
    const fb::StepPlan& plan = *fb::GetStepPlan(bytes.data());
    if (plan.kind() == fb::StepKind::Shutdown) return Status::Ok();
    if (plan.kind() == fb::StepKind::Heartbeat) continue;
    StepOutcome o = execute(plan);
    // A failed step was rolled back everywhere; only a broken ring ends the loop.
    if (o.status.code() == StatusCode::kUnavailable ||
        o.status.code() == StatusCode::kDeadlineExceeded)
      return o.status;
  }
}

StepOutcome RankExecutor::execute(const fb::StepPlan& plan) {
  switch (plan.kind()) {
    case fb::StepKind::Prefill:
      return prefill(plan);
    case fb::StepKind::Decode:
      return decode(plan);
    case fb::StepKind::Truncate: {
      StepOutcome o;
      Status local = truncate_to(plan.seq(), plan.keep_positions());
      StepReport r;
      r.kv_tokens = kv_.length(plan.seq());
      o.status = agree(r, &o.reports, local);
      return o;
    }
    case fb::StepKind::Drop: {
      StepOutcome o;
      Status local = kv_.contains(plan.seq()) ? kv_.drop(plan.seq()) : Status::Ok();
      o.status = agree(StepReport{}, &o.reports, local);
      return o;
    }
    case fb::StepKind::CopyKv:
      return copy_kv(plan);
    case fb::StepKind::Shutdown:
      return StepOutcome{};
    case fb::StepKind::ExportKv:
      return export_kv(plan);
    case fb::StepKind::ImportKv:
      return import_kv(plan, nullptr);
    default: {
      StepOutcome o;
      o.status = agree(StepReport{}, &o.reports, Unsupported("step kind not supported"));
      return o;
    }
  }
}

Status RankExecutor::agree(StepReport mine, std::vector<StepReport>* all, const Status& local) {
  mine.code = int32_t(local.code());
  mine.kv_bytes = kv_.bytes_used();
  all->assign(world_size(), StepReport{});
  if (Status st = comm_.all_gather(&mine, all->data(), sizeof(StepReport)); !st.ok()) {
    // A broken group: this rank's own failure (say the deadline it met
    // first) says more than the agreement's "comm failed earlier".
    if (!local.ok()) return Status(local.code(), local.message() + " (then: " + st.message() + ")");
    return st;
  }
  if (!local.ok()) return local;
  for (int r = 0; r < world_size(); ++r) {
    if ((*all)[r].code != 0)
      return Status(StatusCode((*all)[r].code), "rank " + std::to_string(r) + " failed the step");
  }
  return Status::Ok();
}

void RankExecutor::agree_reservation(SeqId seq, int64_t len_before, int64_t len_after,
                                     const Status& local, StepOutcome* out) {
  StepReport a;
  a.kv_tokens = kv_.length(seq);
  report_beyond_budget(len_after, &a);
  out->status = agree(a, &out->reports, local);
  if (!out->status.ok() && kv_.length(seq) > len_before) {
    // Some rank could not reserve: every rank gives back what it took.
    (void)kv_.truncate(seq, len_before);
  }
}

void RankExecutor::report_beyond_budget(int64_t tokens, StepReport* r) const {
  if (tokens <= kv_.capacity_tokens()) return;
  r->kv_needed = tokens;
  r->kv_capacity = kv_.capacity_tokens();
}

void RankExecutor::abandon_if_midway(const Status& local, const CpAttentionBase& attn) {
  if (local.ok() || attn.layers_attended() == model_.config().n_layers) return;
  // This rank failed inside the layers: its peers wait in an exchange or a
  // collective of a layer it will not reach, so no agreement can follow.
  // Aborting now fails them at once (not at the step deadline) and keeps
  // this rank from taking a peer's layer message for its report, which
  // Gloo cannot survive. The group is lost either way.
  comm_.abort();
  if (&data_ != &comm_) data_.abort();
}

Result<RingPositions> RankExecutor::ring_positions(SeqId seq, const ShardPlan& shard,
                                                   int64_t kv_cap) {
  const int n = world_size();
  RingPositions rp;
  for (const RankShard& r : shard.ranks) rp.q.push_back(r.positions);
  std::vector<int32_t> mine = kv_.positions(seq);
  // Checked after the collective, which every rank must join.
  const bool fits = int64_t(mine.size()) <= kv_cap;
  mine.resize(size_t(kv_cap), -1);
  std::vector<int32_t> all(size_t(n) * kv_cap);
  RINGLM_RETURN_IF_ERROR(comm_.all_gather(mine.data(), all.data(), sizeof(int32_t) * kv_cap)
                             .WithContext("kv positions"));
  if (!fits) return Internal("kv shard larger than the agreed capacity");
  for (int r = 0; r < n; ++r)
    rp.k.emplace_back(all.begin() + r * kv_cap, all.begin() + (r + 1) * kv_cap);
  return rp;
}

int64_t RankExecutor::slots_below(SeqId seq, int32_t keep_positions) const {
  const std::vector<int32_t> pos = kv_.positions(seq);
  return std::lower_bound(pos.begin(), pos.end(), keep_positions) - pos.begin();
}

Status RankExecutor::truncate_to(SeqId seq, int32_t keep_positions) {
  if (!kv_.contains(seq)) return Status::Ok();
  return kv_.truncate(seq, slots_below(seq, keep_positions));
}

StepOutcome RankExecutor::copy_kv(const fb::StepPlan& plan) {
  const SeqId src = plan.seq(), dst = plan.target_seq();
  StepOutcome o;
  StepReport r;
  Status local;
  bool made = false;
  if (kv_.contains(dst)) {
    local = FailedPrecondition("kv sequence " + std::to_string(dst) + " exists");
  } else if (kv_.contains(src)) {
    // The copy shares the source's pages (copy-on-write): it takes no
    // memory until either of them writes into a shared page.
    local = kv_.copy(src, dst, slots_below(src, plan.keep_positions()));
    made = local.ok();
  }
  r.kv_tokens = kv_.length(dst);
  o.status = agree(r, &o.reports, local);
  if (!o.status.ok() && made) (void)kv_.drop(dst);
  return o;
}

StepOutcome RankExecutor::prefill(const fb::StepPlan& plan) {
  Timer step_timer;
  StepOutcome out;
  const SeqId seq = plan.seq();
  const int n_ranks = world_size(), me = rank();
  const int64_t T = plan.tokens() ? plan.tokens()->size() : 0;
  const int32_t* tokens = plan.tokens() ? plan.tokens()->data() : nullptr;
  const uint64_t bytes0 = bytes_sent();

  // Phase A: shard the turn by every rank's current KV and reserve the slots.
  Status local;
  if (!kv_.contains(seq)) local = kv_.create(seq);
  const int64_t len_before = kv_.length(seq);
  std::vector<int64_t> lens(n_ranks);
  if (Status st = comm_.all_gather(&len_before, lens.data(), sizeof(int64_t)); !st.ok()) {
    out.status = st;
    return out;
  }
  auto shard = make_shard_plan(T, plan.start_pos(), n_ranks, lens);
  if (!shard.ok() && local.ok()) local = shard.status();
  if (T < 1 && local.ok()) local = InvalidArgument("prefill step without tokens");
  std::vector<int32_t> ids, pos;
  int64_t n_real = 0, first_slot = 0;
  if (local.ok()) {
    const RankShard& mine = shard->ranks[me];
    n_real = mine.local_count();
    pos = mine.positions;
    ids.assign(pos.size(), 0);
    for (int64_t i = 0; i < n_real; ++i) ids[i] = tokens[mine.token_index[i]];
    auto first = kv_.append(seq, pos.data(), n_real);
    if (first.ok())
      first_slot = first.value();
    else
      local = first.status();
  }
  // Every rank takes its working memory before agreeing, the ring's included
  // (sized for the largest shard after this step's appends): a rank that
  // failed to in phase B would leave its peers waiting in the ring.
  if (local.ok()) local = scratch_.reserve(be_, model_.config(), int64_t(ids.size()));
  RingWorkspace ring_memory;  // outlives attn
  std::optional<CpPrefillAttention> attn;
  // The largest shard after the appends (every rank's length before them,
  // plus its rows of the plan), which the ring pads every shard to.
  int64_t kv_cap = 0;
  if (n_ranks > 1 && shard.ok()) {
    for (int r = 0; r < n_ranks; ++r)
      kv_cap = std::max(kv_cap, lens[r] + shard->ranks[r].local_count());
    attn.emplace(be_, kv_, data_, seq, model_.config(), from_fb(plan.variant()), scratch_.pos,
                 int64_t(ids.size()), first_slot, n_real, kv_cap, ring_memory);
    if (local.ok()) local = attn->reserve();
  }
  agree_reservation(seq, len_before, len_before + n_real, local, &out);
  if (!out.status.ok()) return out;

  // Phase B: the layers, attention through the ring (or locally for N = 1).
  const TokenOwner last = token_owner(shard.value(), T - 1);
  std::vector<int64_t> logit_rows;
  if (plan.want_logits() && last.rank == me) logit_rows.push_back(last.row);
  std::vector<float> logits(logit_rows.size() * model_.config().vocab);
  StepReport b;
  b.variant = int32_t(from_fb(plan.variant()));
  if (n_ranks == 1) {
    LocalAttention attn(be_, kv_, seq, model_.config(), scratch_.pos, pos.data(),
                        int64_t(ids.size()), first_slot, n_real);
    if (local.ok())
      local = model_.forward(be_, ids, pos, attn, scratch_, logit_rows, logits.data());
  } else {
    Result<RingPositions> positions =
        ring_positions(seq, shard.value(), std::max<int64_t>(kv_cap, 1));
    if (local.ok() && !positions.ok()) local = positions.status();
    if (positions.ok()) attn->set_positions(std::move(positions).value());
    if (local.ok())
      local = model_.forward(be_, ids, pos, *attn, scratch_, logit_rows, logits.data());
    abandon_if_midway(local, *attn);
    const RingStats& rs = attn->stats();
    b.compute_ms = rs.compute_ms;
    b.comm_exposed_ms = rs.comm_exposed_ms;
    b.comm_total_ms = rs.comm_total_ms;
  }
  b.kv_tokens = kv_.length(seq);
  b.bytes_sent = bytes_sent() - bytes0;
  b.step_ms = step_timer.ms();
  out.status = agree(b, &out.reports, local);
  if (!out.status.ok()) {
    (void)kv_.truncate(seq, len_before);
    return out;
  }
  if (plan.want_logits()) {
    logits.resize(model_.config().vocab);
    out.status = comm_.broadcast(logits.data(), sizeof(float) * logits.size(), last.rank);
    out.logits = std::move(logits);
  }
  return out;
}

StepOutcome RankExecutor::decode(const fb::StepPlan& plan) {
  Timer step_timer;
  StepOutcome out;
  const SeqId seq = plan.seq();
  const int me = rank();
  const uint64_t bytes0 = bytes_sent();
  Status local;
  if (!plan.tokens() || plan.tokens()->size() != 1)
    local = InvalidArgument("decode step needs one token");
  if (local.ok() && !kv_.contains(seq)) local = kv_.create(seq);
  const int64_t len_before = kv_.length(seq);
  const bool owner = plan.decode_owner() == me;
  const int32_t id = local.ok() ? plan.tokens()->Get(0) : 0, p = plan.start_pos();
  int64_t first_slot = 0;
  if (local.ok() && owner) {
    auto first = kv_.append(seq, &p, 1);
    if (first.ok())
      first_slot = first.value();
    else
      local = first.status();
  }
  // Working memory before agreeing, as in prefill.
  if (local.ok()) local = scratch_.reserve(be_, model_.config(), 1);
  RingWorkspace ring_memory;  // outlives attn
  std::optional<CpDecodeAttention> attn;
  const DecodeVariant dv = plan.decode_variant() == fb::DecodeVariant::RingPassQ
                               ? DecodeVariant::kRingPassQ
                               : DecodeVariant::kAllGather;
  if (world_size() > 1) {
    // A gathered shard is padded to the largest over the ranks. (Gathered on
    // every rank alike, whether or not its backend's attention gathers: a
    // collective must not depend on what is local.)
    const int64_t mine = kv_.length(seq);
    std::vector<int64_t> lens(static_cast<size_t>(world_size()));
    if (Status st = comm_.all_gather(&mine, lens.data(), sizeof(int64_t)); !st.ok()) {
      if (kv_.length(seq) > len_before) (void)kv_.truncate(seq, len_before);
      out.status = st;
      return out;
    }
    const int64_t kv_cap = *std::max_element(lens.begin(), lens.end());
    attn.emplace(be_, kv_, data_, seq, model_.config(), dv, scratch_.pos, owner, first_slot,
                 kv_cap, ring_memory);
    if (local.ok()) local = attn->reserve();
  }
  agree_reservation(seq, len_before, len_before + (owner ? 1 : 0), local, &out);
  if (!out.status.ok()) return out;

  std::vector<int64_t> logit_rows;
  if (plan.want_logits() && me == 0) logit_rows.push_back(0);
  std::vector<float> logits(logit_rows.size() * model_.config().vocab);
  StepReport b;
  if (world_size() == 1) {
    LocalAttention attn(be_, kv_, seq, model_.config(), scratch_.pos, &p, 1, first_slot, 1);
    if (local.ok())
      local = model_.forward(be_, {&id, 1}, {&p, 1}, attn, scratch_, logit_rows, logits.data());
  } else {
    if (local.ok())
      local = model_.forward(be_, {&id, 1}, {&p, 1}, *attn, scratch_, logit_rows, logits.data());
    abandon_if_midway(local, *attn);
    b.compute_ms = attn->stats().compute_ms;
    b.comm_exposed_ms = attn->stats().comm_exposed_ms;
    b.comm_total_ms = attn->stats().comm_total_ms;
    b.variant = int32_t(dv);
  }
  b.kv_tokens = kv_.length(seq);
  b.bytes_sent = bytes_sent() - bytes0;
  b.step_ms = step_timer.ms();
  out.status = agree(b, &out.reports, local);
  if (!out.status.ok()) {
    (void)kv_.truncate(seq, len_before);
    return out;
  }
  out.logits = std::move(logits);
  return out;
}

}  // namespace ringlm
