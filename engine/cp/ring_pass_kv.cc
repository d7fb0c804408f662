// Ring pass-KV (docs/context-parallelism.md section 3).
//
// Rank k holds Q for its new tokens and KV for its cached + new tokens. At
// step j it computes its Q against the KV block of rank (k - j) mod N while
// that block travels on to next() and the block for step j+1 arrives from
// prev(); the partial (O, LSE) is merged into the output at once. KV makes
// N-1 hops; there is no collective at the end.
#include <limits>

#include "cp/ring_attention.h"
#include "cp/ring_common.h"

namespace ringlm {

using namespace cp_internal;  // NOLINT: private helpers of this module

namespace {

// One message per step: [K (tk*hkv*d of a.kv) | V (same) | positions (tk i32)].
size_t kv_bytes(const RingAttentionArgs& a) {
  return static_cast<size_t>(a.tk) * a.hkv * a.d * kernels::kv_elem_bytes(a.kv);
}
size_t message_bytes(const RingAttentionArgs& a) {
  return 2 * kv_bytes(a) + static_cast<size_t>(a.tk) * sizeof(int32_t);
}

// acc_lse [tq, hq]; part_out [tq, hq, d] and part_lse [tq, hq] (one block's
// partial); the ring's blocks and the key-run split, taken together so that
// reserve_ring_pass_kv takes what the call does.
struct Memory {
  float* acc_lse = nullptr;
  float* part_out = nullptr;
  float* part_lse = nullptr;
};
Result<Memory> take_memory(const Comm& comm, Backend& backend, const RingAttentionArgs& a,
                           RingWorkspace& ws) {
  const int64_t lse_n = a.tq * a.hq, out_n = lse_n * a.d;
  Memory m;
  RINGLM_ASSIGN_OR_RETURN(uint8_t* acc,
                          ws.backend_buffer(backend, RingWorkspace::kAccum, lse_n * sizeof(float)));
  RINGLM_ASSIGN_OR_RETURN(
      uint8_t* part,
      ws.backend_buffer(backend, RingWorkspace::kPartial, (lse_n + out_n) * sizeof(float)));
  m.acc_lse = reinterpret_cast<float*>(acc);
  m.part_out = reinterpret_cast<float*>(part);
  m.part_lse = m.part_out + out_n;
  RINGLM_RETURN_IF_ERROR(take_block_ring(comm, backend, message_bytes(a), ws).status());
  RINGLM_RETURN_IF_ERROR(reserve_split(backend, a, a.tq, ws));
  return m;
}

}  // namespace

Status reserve_ring_pass_kv(const Comm& comm, Backend& backend, const RingAttentionArgs& a) {
  RINGLM_RETURN_IF_ERROR(check_shape(comm, backend, a, "reserve_ring_pass_kv"));
  if (!a.workspace) return InvalidArgument("reserve_ring_pass_kv: no workspace");
  if (a.tq == 0 || a.tk == 0) return Status::Ok();
  return take_memory(comm, backend, a, *a.workspace).status();
}

Status ring_pass_kv(Comm& comm, Backend& backend, const RingAttentionArgs& a, float* out,
                    RingStats* stats) {
  RINGLM_RETURN_IF_ERROR(check_args(comm, backend, a, out, "ring_pass_kv"));
  // Declared before the ring, so destroyed after it: on an early return the
  // ring's destructor waits (with deadlines) for pending transfers on these
  // buffers before they are freed.
  RingWorkspace own;
  RingWorkspace& ws = workspace_of(a, own);
  RingStats scratch_stats;
  RingStats& st = stats ? *stats : scratch_stats;
  const int n = comm.size();
  st.steps += n;
  if (a.tq == 0) return Status::Ok();
  if (a.tk == 0) return backend.fill(out, 0.f, a.tq * a.hq * a.d);

  // Local queries: host positions and runs, fixed for the whole ring.
  std::vector<int32_t> q_pos_read;
  const int rank = comm.rank();
  RINGLM_ASSIGN_OR_RETURN(const int32_t* q_pos_host, own_positions(backend, a.q_pos_by_rank, rank,
                                                                   a.q_pos, a.tq, &q_pos_read));
  const std::vector<QueryRun> runs = query_runs(q_pos_host, a.tq);
  const QBlock qb{a.q, a.q_pos, q_pos_host, a.tq};

  const int64_t lse_n = a.tq * a.hq;
  RINGLM_ASSIGN_OR_RETURN(const Memory mem, take_memory(comm, backend, a, ws));
  RINGLM_RETURN_IF_ERROR(fill_empty(backend, a, a.tq, out, mem.acc_lse));

  const size_t kvb_bytes = kv_bytes(a), pos_offset = 2 * kvb_bytes;
  BlockRing ring(comm, backend, kTagPassKV);
  RINGLM_RETURN_IF_ERROR(ring.init({{a.k, kvb_bytes},
                                    {a.v, kvb_bytes},
                                    {a.k_pos, static_cast<size_t>(a.tk) * sizeof(int32_t)}},
                                   ws));

  StepTimer timer(backend, comm);
  for (int j = 0; j < n; ++j) {
    const bool more = j + 1 < n;
    if (more) RINGLM_RETURN_IF_ERROR(ring.start(j));  // overlaps the compute below

    RINGLM_RETURN_IF_ERROR(timer.begin());
    const int src = (rank - j + n) % n;  // whose KV block this step holds
    RINGLM_ASSIGN_OR_RETURN(const int32_t* k_pos_host,
                            ring.positions(a.k_pos_by_rank, src, pos_offset, a.tk));
    const uint8_t* blk = ring.block();
    const KvBlock kvb{blk, blk + kvb_bytes, reinterpret_cast<const int32_t*>(blk + pos_offset),
                      k_pos_host, a.tk};
    RINGLM_ASSIGN_OR_RETURN(
        bool any, block_partial(backend, a, qb, runs, kvb, mem.part_out, mem.part_lse, &st, ws));
    if (any) {
      kernels::MergeParams m;
      m.acc_out = out;
      m.acc_lse = mem.acc_lse;
      m.out = mem.part_out;
      m.lse = mem.part_lse;
      m.rows = lse_n;
      m.d = a.d;
      RINGLM_RETURN_IF_ERROR(backend.merge_partials(m));
    } else {
      ++st.skipped_blocks;
    }
    RINGLM_ASSIGN_OR_RETURN(const Clock::time_point* compute_done, timer.end(&st));
    if (more) RINGLM_RETURN_IF_ERROR(ring.finish(&st, compute_done));
  }
  RINGLM_RETURN_IF_ERROR(ring.drain(&st));  // before the backend sync: deadlines hold
  RINGLM_RETURN_IF_ERROR(timer.finish(&st));
  return Status::Ok();
}

}  // namespace ringlm
