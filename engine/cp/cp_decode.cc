// CP decode attention (docs/context-parallelism.md section 6).
//
// Every rank holds the same decoding queries and its own shard of the KV
// (round-robin appended, see decode_owner in cp/sharding.h). Two variants:
//  all-gather:  local partial (O, LSE) -> all_gather -> every rank merges all
//               N partials in rank order (identical output everywhere);
//  ring pass-Q: queries split into N home groups that run ring pass-Q (the
//               group travels, partials return home by all_to_all and merge
//               there), then an all_gather of the merged groups, because every
//               rank needs the whole output for the rest of the layer.
#include <algorithm>
#include <functional>
#include <limits>
#include <span>

#include "cp/ring_attention.h"
#include "cp/ring_common.h"

namespace ringlm {

using namespace cp_internal;  // NOLINT: private helpers of this module

namespace {

// This rank's partial (out [tq, hq, d], lse [tq, hq]) over its own KV.
using LocalPartial = std::function<Status(float* out, float* lse)>;

// Over the contiguous shard in a (positions screened on the host, so fully
// masked query runs cost no kernel call).
LocalPartial shard_partial(Backend& backend, const RingAttentionArgs& a, RingStats& st,
                           RingWorkspace& ws) {
  return [&backend, &a, &st, &ws](float* out, float* lse) -> Status {
    std::vector<int32_t> q_pos_host, k_pos_host;
    RINGLM_RETURN_IF_ERROR(ints_to_host(backend, a.q_pos, a.tq, &q_pos_host));
    RINGLM_RETURN_IF_ERROR(ints_to_host(backend, a.k_pos, a.tk, &k_pos_host));
    const QBlock qb{a.q, a.q_pos, q_pos_host.data(), a.tq};
    const KvBlock kvb{a.k, a.v, a.k_pos, k_pos_host.data(), a.tk};
    const std::vector<QueryRun> runs = query_runs(q_pos_host.data(), a.tq);
    RINGLM_ASSIGN_OR_RETURN(bool any, block_partial(backend, a, qb, runs, kvb, out, lse, &st, ws));
    if (!any) {
      ++st.skipped_blocks;
      RINGLM_RETURN_IF_ERROR(fill_empty(backend, a, a.tq, out, lse));
    }
    return Status::Ok();
  };
}

// Over the KV blocks in place, in one backend call (no gather, no host copy
// of positions; the kernel masks).
LocalPartial blocks_partial(Backend& backend, const RingAttentionArgs& a,
                            std::span<const kernels::KeyBlock> blocks, RingStats& st) {
  return [&backend, &a, blocks, &st](float* out, float* lse) -> Status {
    kernels::AttentionParams p = attention_shape(a);
    p.q = a.q;
    p.q_pos = a.q_pos;
    p.out = out;
    p.lse = lse;
    p.tq = a.tq;
    ++st.attention_calls;
    return backend.attention_partial_blocks(p, blocks.data(), blocks.size());
  };
}

// The all-gather variant's memory: lse [tq, hq] (the local partial's for
// N = 1, else the merge's accumulator); for N > 1 the own partial [O | LSE]
// to send and all N partials received.
struct AllGatherMemory {
  float* lse = nullptr;
  CommBuffer send, recv;
};
Status take_all_gather(const Comm& comm, Backend& backend, const RingAttentionArgs& a,
                       RingWorkspace& ws, AllGatherMemory* m) {
  RINGLM_ASSIGN_OR_RETURN(
      uint8_t* lse, ws.backend_buffer(backend, RingWorkspace::kAccum, a.tq * a.hq * sizeof(float)));
  m->lse = reinterpret_cast<float*>(lse);
  if (comm.size() == 1) return Status::Ok();
  const size_t part_bytes = partial_floats(a, a.tq) * sizeof(float);
  RINGLM_RETURN_IF_ERROR(m->send.init(comm, backend, part_bytes, ws, RingWorkspace::kSend));
  return m->recv.init(comm, backend, comm.size() * part_bytes, ws, RingWorkspace::kRecv);
}

Status decode_all_gather(Comm& comm, Backend& backend, const RingAttentionArgs& a, float* out,
                         RingStats& st, const LocalPartial& local, RingWorkspace& ws) {
  const int n = comm.size();
  const int64_t lse_n = a.tq * a.hq, out_n = lse_n * a.d;
  const size_t part_bytes = partial_floats(a, a.tq) * sizeof(float);
  AllGatherMemory mem;
  RINGLM_RETURN_IF_ERROR(take_all_gather(comm, backend, a, ws, &mem));

  const auto t0 = Clock::now();
  if (n == 1) {  // local attention, no communication
    RINGLM_RETURN_IF_ERROR(local(out, mem.lse));
    RINGLM_RETURN_IF_ERROR(backend.synchronize());
    st.compute_ms += ms_between(t0, Clock::now());
    return Status::Ok();
  }

  // Own partial [O | LSE] in the send buffer, all N partials in recv.
  CommBuffer& send = mem.send;
  CommBuffer& recv = mem.recv;
  float* own_out = reinterpret_cast<float*>(send.backend_ptr());
  float* own_lse = own_out + out_n;
  RINGLM_RETURN_IF_ERROR(local(own_out, own_lse));
  RINGLM_RETURN_IF_ERROR(send.sync_to_comm(0, part_bytes));
  RINGLM_RETURN_IF_ERROR(backend.synchronize());
  const auto t1 = Clock::now();
  st.compute_ms += ms_between(t0, t1);

  RINGLM_RETURN_IF_ERROR(
      comm.all_gather(send.comm_ptr(), recv.comm_ptr(), part_bytes).WithContext("cp decode"));
  RINGLM_RETURN_IF_ERROR(recv.sync_to_backend(0, n * part_bytes));
  const auto t2 = Clock::now();
  st.comm_exposed_ms += ms_between(t1, t2);
  st.comm_total_ms += ms_between(t1, t2);
  st.bytes_sent += static_cast<uint64_t>(n - 1) * part_bytes;

  RINGLM_RETURN_IF_ERROR(merge_blocks(backend, a,
                                      reinterpret_cast<const float*>(recv.backend_ptr()), n, a.tq,
                                      out, mem.lse));
  RINGLM_RETURN_IF_ERROR(backend.synchronize());
  st.compute_ms += ms_between(t2, Clock::now());
  return Status::Ok();
}

// Decode pass-Q's memory: this rank's query group [g, hq, d] with its
// positions [g], and the merged outputs (own group; all N groups).
struct GroupMemory {
  float* q = nullptr;
  int32_t* pos = nullptr;
  CommBuffer mine, all;
};
int64_t group_rows(const Comm& comm, const RingAttentionArgs& a) {
  return (a.tq + comm.size() - 1) / comm.size();  // equal on all ranks
}
Status take_groups(const Comm& comm, Backend& backend, const RingAttentionArgs& a,
                   RingWorkspace& ws, GroupMemory* m) {
  const int64_t g = group_rows(comm, a);
  const size_t group_bytes = static_cast<size_t>(g) * a.hq * a.d * sizeof(float);
  RINGLM_ASSIGN_OR_RETURN(uint8_t* q, ws.backend_buffer(backend, RingWorkspace::kGroupQ,
                                                        group_bytes + g * sizeof(int32_t)));
  m->q = reinterpret_cast<float*>(q);
  m->pos = reinterpret_cast<int32_t*>(q + group_bytes);
  RINGLM_RETURN_IF_ERROR(m->mine.init(comm, backend, group_bytes, ws, RingWorkspace::kGroupMine));
  return m->all.init(comm, backend, comm.size() * group_bytes, ws, RingWorkspace::kGroupAll);
}

Status decode_ring_pass_q(Comm& comm, Backend& backend, const RingAttentionArgs& a, float* out,
                          RingStats& st, RingWorkspace& ws) {
  const int n = comm.size();
  const int rank = comm.rank();
  const int64_t g = group_rows(comm, a);
  const int64_t row = static_cast<int64_t>(a.hq) * a.d;
  const int64_t first = std::min<int64_t>(rank * g, a.tq);
  const int64_t count = std::min<int64_t>(g, a.tq - first);

  // Every group's positions, padded to g rows with -1: every rank holds all
  // tq queries, so the ring plans each step from these host copies and reads
  // no position back (nor waits on the host for a block to read it).
  std::vector<int32_t> q_pos_host;
  RINGLM_RETURN_IF_ERROR(ints_to_host(backend, a.q_pos, a.tq, &q_pos_host));
  std::vector<std::vector<int32_t>> group_pos(n, std::vector<int32_t>(g, -1));
  for (int r = 0; r < n; ++r) {
    const int64_t f = std::min<int64_t>(r * g, a.tq), c = std::min<int64_t>(g, a.tq - f);
    std::copy(q_pos_host.begin() + f, q_pos_host.begin() + f + c, group_pos[r].begin());
  }

  // This rank's group: [g, hq, d], [g].
  GroupMemory mem;
  RINGLM_RETURN_IF_ERROR(take_groups(comm, backend, a, ws, &mem));
  if (count > 0) {
    RINGLM_RETURN_IF_ERROR(backend.copy(mem.q, a.q + first * row, count * row * sizeof(float)));
  }
  RINGLM_RETURN_IF_ERROR(backend.fill(mem.q + count * row, 0.f, (g - count) * row));
  RINGLM_RETURN_IF_ERROR(
      backend.copy_from_host(mem.pos, group_pos[rank].data(), g * sizeof(int32_t)));

  RingAttentionArgs ga = a;
  ga.q = mem.q;
  ga.q_pos = mem.pos;
  ga.tq = g;
  ga.q_pos_by_rank = group_pos;  // the groups, not the callers' query blocks
  ga.workspace = &ws;

  // Merged output of every group: [N, g, hq, d]; this rank's group first in `mine`.
  const size_t group_bytes = static_cast<size_t>(g * row) * sizeof(float);
  CommBuffer& mine = mem.mine;
  CommBuffer& all = mem.all;
  RINGLM_RETURN_IF_ERROR(
      ring_pass_q(comm, backend, ga, reinterpret_cast<float*>(mine.backend_ptr()), &st));
  st.steps -= n;  // counted below for the whole decode call
  RINGLM_RETURN_IF_ERROR(mine.sync_to_comm(0, group_bytes));

  const auto t0 = Clock::now();
  RINGLM_RETURN_IF_ERROR(
      comm.all_gather(mine.comm_ptr(), all.comm_ptr(), group_bytes).WithContext("cp decode"));
  RINGLM_RETURN_IF_ERROR(all.sync_to_backend(0, n * group_bytes));
  const double ms = ms_between(t0, Clock::now());
  st.comm_exposed_ms += ms;
  st.comm_total_ms += ms;
  st.bytes_sent += static_cast<uint64_t>(n - 1) * group_bytes;
  // Groups are in rank order, so the first tq rows are the queries in order.
  return backend.copy(out, all.backend_ptr(), a.tq * row * sizeof(float));
}

// Whether cp_decode_attention runs the all-gather variant (as it does on
// one rank, whatever the variant asked for).
bool all_gather_decode(const Comm& comm, DecodeVariant variant) {
  return comm.size() == 1 || variant != DecodeVariant::kRingPassQ;
}

}  // namespace

Status cp_decode_attention(Comm& comm, Backend& backend, const RingAttentionArgs& a, float* out,
                           RingStats* stats, DecodeVariant variant) {
  RINGLM_RETURN_IF_ERROR(check_args(comm, backend, a, out, "cp_decode_attention"));
  RingWorkspace own;
  RingWorkspace& ws = workspace_of(a, own);
  RingStats scratch_stats;
  RingStats& st = stats ? *stats : scratch_stats;
  const int n = comm.size();
  st.steps += n;
  if (a.tq == 0) return Status::Ok();
  if (all_gather_decode(comm, variant)) {
    return decode_all_gather(comm, backend, a, out, st, shard_partial(backend, a, st, ws), ws);
  }
  return decode_ring_pass_q(comm, backend, a, out, st, ws);
}

Status reserve_cp_decode(const Comm& comm, Backend& backend, const RingAttentionArgs& shape,
                         DecodeVariant variant, bool blocks) {
  RingAttentionArgs a = shape;
  if (blocks) a.tk = 0;
  RINGLM_RETURN_IF_ERROR(check_shape(comm, backend, a, "reserve_cp_decode"));
  if (!a.workspace) return InvalidArgument("reserve_cp_decode: no workspace");
  if (a.tq == 0) return Status::Ok();
  RingWorkspace& ws = *a.workspace;
  if (blocks || all_gather_decode(comm, variant)) {
    AllGatherMemory m;
    RINGLM_RETURN_IF_ERROR(take_all_gather(comm, backend, a, ws, &m));
    return blocks ? Status::Ok() : reserve_split(backend, a, a.tq, ws);  // shard_partial's
  }
  GroupMemory m;
  RINGLM_RETURN_IF_ERROR(take_groups(comm, backend, a, ws, &m));
  RingAttentionArgs ga = a;
  ga.tq = group_rows(comm, a);
  ga.q_pos_by_rank = {};
  return reserve_ring_pass_q(comm, backend, ga);
}

Status cp_decode_attention_blocks(Comm& comm, Backend& backend, const RingAttentionArgs& a,
                                  std::span<const kernels::KeyBlock> blocks, float* out,
                                  RingStats* stats) {
  RingAttentionArgs q_only = a;
  q_only.k = q_only.v = nullptr;
  q_only.k_pos = nullptr;
  q_only.tk = 0;
  RINGLM_RETURN_IF_ERROR(check_args(comm, backend, q_only, out, "cp_decode_attention_blocks"));
  RingWorkspace own;
  RingWorkspace& ws = workspace_of(a, own);
  if (!backend.has_attention_blocks())
    return Unsupported("cp_decode_attention_blocks: the backend has no attention over key blocks");
  RingStats scratch_stats;
  RingStats& st = stats ? *stats : scratch_stats;
  st.steps += comm.size();
  if (a.tq == 0) return Status::Ok();
  return decode_all_gather(comm, backend, q_only, out, st,
                           blocks_partial(backend, q_only, blocks, st), ws);
}

}  // namespace ringlm
