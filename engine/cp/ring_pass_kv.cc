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

Status ring_pass_kv(Comm& comm, Backend& backend, const RingAttentionArgs& a, float* out,
                    RingStats* stats) {
  RINGLM_RETURN_IF_ERROR(check_args(comm, backend, a, out, "ring_pass_kv"));
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

  // Scratch: acc_lse [tq, hq], part_out [tq, hq, d], part_lse [tq, hq].
  const int64_t lse_n = a.tq * a.hq, out_n = lse_n * a.d;
  RINGLM_ASSIGN_OR_RETURN(Buffer scratch, backend.alloc((2 * lse_n + out_n) * sizeof(float)));
  float* acc_lse = scratch.as<float>();
  float* part_out = acc_lse + lse_n;
  float* part_lse = part_out + out_n;
  RINGLM_RETURN_IF_ERROR(fill_empty(backend, a, a.tq, out, acc_lse));

  // One message per step: [K (tk*hkv*d of a.kv) | V (same) | positions (tk i32)].
  const size_t kv_bytes = static_cast<size_t>(a.tk) * a.hkv * a.d * kernels::kv_elem_bytes(a.kv);
  const size_t pos_offset = 2 * kv_bytes;
  // Declared before the ring, so destroyed after it: on an early return the
  // ring's destructor waits (with deadlines) for pending transfers before
  // freeing this buffer can synchronise on work that waits for them.
  SplitScratch split_scratch;  // partials of key runs past the first (block_partial)
  BlockRing ring(comm, backend, kTagPassKV);
  RINGLM_RETURN_IF_ERROR(ring.init(
      {{a.k, kv_bytes}, {a.v, kv_bytes}, {a.k_pos, static_cast<size_t>(a.tk) * sizeof(int32_t)}}));

  StepTimer timer(backend, comm);
  for (int j = 0; j < n; ++j) {
    const bool more = j + 1 < n;
    if (more) RINGLM_RETURN_IF_ERROR(ring.start(j));  // overlaps the compute below

    RINGLM_RETURN_IF_ERROR(timer.begin());
    const int src = (rank - j + n) % n;  // whose KV block this step holds
    RINGLM_ASSIGN_OR_RETURN(const int32_t* k_pos_host,
                            ring.positions(a.k_pos_by_rank, src, pos_offset, a.tk));
    const uint8_t* blk = ring.block();
    const KvBlock kvb{blk, blk + kv_bytes, reinterpret_cast<const int32_t*>(blk + pos_offset),
                      k_pos_host, a.tk};
    RINGLM_ASSIGN_OR_RETURN(bool any, block_partial(backend, a, qb, runs, kvb, part_out, part_lse,
                                                    &st, &split_scratch));
    if (any) {
      kernels::MergeParams m;
      m.acc_out = out;
      m.acc_lse = acc_lse;
      m.out = part_out;
      m.lse = part_lse;
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
