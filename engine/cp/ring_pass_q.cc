// Ring pass-Q (docs/context-parallelism.md section 4).
//
// KV stays put; each rank's query block (with its positions) travels N-1
// hops. At step j rank k holds the block homed on rank (k - j) mod N and
// computes its partial (O, LSE) against the local KV into the slot of the
// all_to_all send buffer addressed to that home, while the block moves on.
// One all_to_all then returns to every home rank the N partials of its own
// queries (slot s: against rank s's KV), merged there in rank order.
#include <limits>

#include "cp/ring_attention.h"
#include "cp/ring_common.h"

namespace ringlm {

using namespace cp_internal;  // NOLINT: private helpers of this module

namespace {

// One message per step: [Q (tq*hq*d f32) | positions (tq i32)].
size_t q_bytes(const RingAttentionArgs& a) {
  return static_cast<size_t>(a.tq) * a.hq * a.d * sizeof(float);
}

// The partial slots (send and receive, [N][O | LSE]), acc_lse [tq, hq], the
// ring's blocks and the key-run split, taken together so that
// reserve_ring_pass_q takes what the call does.
struct Memory {
  CommBuffer send, recv;
  float* acc_lse = nullptr;
};
Status take_memory(const Comm& comm, Backend& backend, const RingAttentionArgs& a,
                   RingWorkspace& ws, Memory* m) {
  const size_t part_bytes = partial_floats(a, a.tq) * sizeof(float);
  RINGLM_RETURN_IF_ERROR(
      m->send.init(comm, backend, comm.size() * part_bytes, ws, RingWorkspace::kSend));
  RINGLM_RETURN_IF_ERROR(
      m->recv.init(comm, backend, comm.size() * part_bytes, ws, RingWorkspace::kRecv));
  RINGLM_ASSIGN_OR_RETURN(
      uint8_t* acc, ws.backend_buffer(backend, RingWorkspace::kAccum, a.tq * a.hq * sizeof(float)));
  m->acc_lse = reinterpret_cast<float*>(acc);
  RINGLM_RETURN_IF_ERROR(
      take_block_ring(comm, backend, q_bytes(a) + static_cast<size_t>(a.tq) * sizeof(int32_t), ws)
          .status());
  return reserve_split(backend, a, a.tq, ws);
}

}  // namespace

Status reserve_ring_pass_q(const Comm& comm, Backend& backend, const RingAttentionArgs& a) {
  RINGLM_RETURN_IF_ERROR(check_shape(comm, backend, a, "reserve_ring_pass_q"));
  if (!a.workspace) return InvalidArgument("reserve_ring_pass_q: no workspace");
  if (a.tq == 0) return Status::Ok();
  Memory m;
  return take_memory(comm, backend, a, *a.workspace, &m);
}

Status ring_pass_q(Comm& comm, Backend& backend, const RingAttentionArgs& a, float* out,
                   RingStats* stats) {
  RINGLM_RETURN_IF_ERROR(check_args(comm, backend, a, out, "ring_pass_q"));
  // Declared before the ring, so destroyed after it: on an early return the
  // ring's destructor waits (with deadlines) for pending transfers on these
  // buffers before they are freed.
  RingWorkspace own;
  RingWorkspace& ws = workspace_of(a, own);
  RingStats scratch_stats;
  RingStats& st = stats ? *stats : scratch_stats;
  const int n = comm.size();
  const int rank = comm.rank();
  st.steps += n;
  if (a.tq == 0) return Status::Ok();

  // Local KV: host positions, fixed for the whole ring.
  std::vector<int32_t> k_pos_read;
  RINGLM_ASSIGN_OR_RETURN(const int32_t* k_pos_host, own_positions(backend, a.k_pos_by_rank, rank,
                                                                   a.k_pos, a.tk, &k_pos_read));
  const KvBlock kvb{a.k, a.v, a.k_pos, k_pos_host, a.tk};

  // Partial slots, [N][O (tq*hq*d) | LSE (tq*hq)]: send slot s goes to rank s,
  // receive slot s came from rank s (this rank's queries against its KV).
  const int64_t lse_n = a.tq * a.hq, out_n = lse_n * a.d;
  const size_t part_bytes = partial_floats(a, a.tq) * sizeof(float);
  Memory mem;
  RINGLM_RETURN_IF_ERROR(take_memory(comm, backend, a, ws, &mem));
  CommBuffer& send = mem.send;
  CommBuffer& recv = mem.recv;

  const size_t qb_bytes = q_bytes(a);
  BlockRing ring(comm, backend, kTagPassQ);
  RINGLM_RETURN_IF_ERROR(ring.init(
      {{a.q, qb_bytes}, {a.q_pos, static_cast<size_t>(a.tq) * sizeof(int32_t)}}, ws));

  StepTimer timer(backend, comm);
  for (int j = 0; j < n; ++j) {
    const bool more = j + 1 < n;
    if (more) RINGLM_RETURN_IF_ERROR(ring.start(j));  // overlaps the compute below

    RINGLM_RETURN_IF_ERROR(timer.begin());
    const int home = (rank - j + n) % n;
    RINGLM_ASSIGN_OR_RETURN(const int32_t* q_pos_host,
                            ring.positions(a.q_pos_by_rank, home, qb_bytes, a.tq));
    const uint8_t* blk = ring.block();
    const QBlock qb{reinterpret_cast<const float*>(blk),
                    reinterpret_cast<const int32_t*>(blk + qb_bytes), q_pos_host, a.tq};
    float* slot_out = reinterpret_cast<float*>(send.backend_ptr() + home * part_bytes);
    float* slot_lse = slot_out + out_n;
    RINGLM_ASSIGN_OR_RETURN(bool any, block_partial(backend, a, qb, query_runs(q_pos_host, a.tq),
                                                    kvb, slot_out, slot_lse, &st, ws));
    if (!any) {
      ++st.skipped_blocks;
      RINGLM_RETURN_IF_ERROR(fill_empty(backend, a, a.tq, slot_out, slot_lse));
    }
    RINGLM_RETURN_IF_ERROR(send.sync_to_comm(home * part_bytes, part_bytes));
    RINGLM_ASSIGN_OR_RETURN(const Clock::time_point* compute_done, timer.end(&st));
    if (more) RINGLM_RETURN_IF_ERROR(ring.finish(&st, compute_done));
  }
  RINGLM_RETURN_IF_ERROR(ring.drain(&st));  // before the backend sync: deadlines hold
  RINGLM_RETURN_IF_ERROR(timer.finish(&st));

  // Return every partial to its home; on the critical path.
  const float* parts = reinterpret_cast<const float*>(send.backend_ptr());
  if (n > 1) {
    const auto t0 = Clock::now();
    RINGLM_RETURN_IF_ERROR(
        comm.all_to_all(send.comm_ptr(), recv.comm_ptr(), part_bytes).WithContext("ring_pass_q"));
    RINGLM_RETURN_IF_ERROR(recv.sync_to_backend(0, n * part_bytes));
    const double ms = ms_between(t0, Clock::now());
    st.comm_exposed_ms += ms;
    st.comm_total_ms += ms;
    st.bytes_sent += static_cast<uint64_t>(n - 1) * part_bytes;
    parts = reinterpret_cast<const float*>(recv.backend_ptr());
  }

  const auto t0 = Clock::now();
  RINGLM_RETURN_IF_ERROR(merge_blocks(backend, a, parts, n, a.tq, out, mem.acc_lse));
  RINGLM_RETURN_IF_ERROR(backend.synchronize());
  st.compute_ms += ms_between(t0, Clock::now());
  return Status::Ok();
}

}  // namespace ringlm
