// Pieces shared by ring pass-KV, ring pass-Q and CP decode (private to cp/).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "comm/comm.h"
#include "core/status.h"
#include "cp/ring_attention.h"
#include "cp/ring_workspace.h"

namespace ringlm::cp_internal {

// Ring exchange tags per algorithm (step j uses base + j % 4096); exchanges
// are strictly sequential, the bases only make traces readable.
constexpr uint32_t kTagPassKV = 0x1000;
constexpr uint32_t kTagPassQ = 0x2000;

using Clock = std::chrono::steady_clock;
inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Shapes and memory spaces. `what` prefixes the message.
Status check_shape(const Comm& comm, const Backend& backend, const RingAttentionArgs& a,
                   const char* what);
// check_shape, and the pointers a call reads and writes.
Status check_args(const Comm& comm, const Backend& backend, const RingAttentionArgs& a,
                  const float* out, const char* what);

// The workspace a call takes its memory from: the caller's, else `own`
// (declare `own` before any BlockRing, so that it outlives the ring's
// transfers).
inline RingWorkspace& workspace_of(const RingAttentionArgs& a, RingWorkspace& own) {
  return a.workspace ? *a.workspace : own;
}

// True when messages go through host copies (device Backend, host Comm).
inline bool staged(const Comm& comm, const Backend& backend) {
  return !backend.host_memory() && !comm.device_memory();
}

// Host copy of `n` int32 values held in backend memory.
Status ints_to_host(Backend& backend, const int32_t* src, int64_t n, std::vector<int32_t>* dst);

// This rank's host positions of `n` values `dev` (backend memory): the
// caller's copy by_rank[rank] where given (RingAttentionArgs::*_pos_by_rank),
// else read back into *read.
Result<const int32_t*> own_positions(Backend& backend,
                                     std::span<const std::vector<int32_t>> by_rank, int rank,
                                     const int32_t* dev, int64_t n, std::vector<int32_t>* read);

// Rows [begin, end) of a query block whose valid positions are consecutive;
// max_pos is the largest position among them.
struct QueryRun {
  int64_t begin = 0;
  int64_t end = 0;
  int32_t max_pos = -1;
};
// Splits the valid rows of `pos` [n] into runs of consecutive positions
// (padding rows, position < 0, belong to no run). More than kMaxRuns runs
// collapse into one run from the first to the last valid row (its padding
// rows are masked by the kernel anyway).
constexpr size_t kMaxRuns = 8;
std::vector<QueryRun> query_runs(const int32_t* pos, int64_t n);

// Keys [begin, end) from the first to the last key visible to a query at
// position max_pos (0 <= k_pos <= max_pos); empty when there is none.
struct KeySpan {
  int64_t begin = 0;
  int64_t end = 0;
  bool empty() const { return end <= begin; }
};
KeySpan visible_keys(const int32_t* k_pos, int64_t tk, int32_t max_pos);

// The keys of `span` as runs of consecutive valid positions, dropping runs no
// query at position <= max_pos can see. More than kMaxKeyRuns runs: the span
// itself, uncut (the kernel masks by position anyway).
constexpr size_t kMaxKeyRuns = 4;
std::vector<KeySpan> key_runs(const int32_t* k_pos, KeySpan span, int32_t max_pos);

// One block of queries or KV in backend memory plus its host positions.
struct QBlock {
  const float* q = nullptr;           // [tq, hq, d] backend memory
  const int32_t* pos = nullptr;       // [tq] backend memory
  const int32_t* host_pos = nullptr;  // [tq] host copy
  int64_t tq = 0;
};
struct KvBlock {
  const void* k = nullptr;            // [tk, hkv, d] of the args' kv type, backend memory
  const void* v = nullptr;            // [tk, hkv, d]
  const int32_t* pos = nullptr;       // [tk] backend memory
  const int32_t* host_pos = nullptr;  // [tk] host copy
  int64_t tk = 0;
};

// Whether block_partial cuts the keys of a query run of `rows` rows into key
// runs (RingAttentionArgs::key_runs).
bool splits_key_runs(const RingAttentionArgs& shape, const Backend& backend, int64_t rows);
// Takes the kSplit memory block_partial may take for query blocks of `tq` rows.
Status reserve_split(Backend& backend, const RingAttentionArgs& shape, int64_t tq,
                     RingWorkspace& ws);

// Partial attention of `q` against `kv` into out [tq, hq, d] and lse [tq, hq]
// (backend memory), one kernel call per query run with a visible key span
// (or per key run of that span, merged by LSE, when shape.key_runs asks for
// it; the extra partials go to the workspace's kSplit slot).
// Returns whether anything was computed; when it was, rows outside the
// computed runs are set to out = 0, lse = -inf; when nothing was, out and lse
// are left untouched (the block is fully masked). Counts calls into stats.
Result<bool> block_partial(Backend& backend, const RingAttentionArgs& shape, const QBlock& q,
                           const std::vector<QueryRun>& runs, const KvBlock& kv, float* out,
                           float* lse, RingStats* stats, RingWorkspace& ws);

// Partial-attention parameters with a's head shape and scale, causal; the
// caller fills in the rows, keys and outputs.
kernels::AttentionParams attention_shape(const RingAttentionArgs& a);

// out = 0, lse = -inf for `rows` query rows.
Status fill_empty(Backend& backend, const RingAttentionArgs& shape, int64_t rows, float* out,
                  float* lse);

// Merges `n` partial blocks laid out as [n][O (rows*hq*d) | LSE (rows*hq)]
// (backend memory) in block order into out [rows, hq, d]; lse_scratch [rows*hq].
Status merge_blocks(Backend& backend, const RingAttentionArgs& shape, const float* blocks, int n,
                    int64_t rows, float* out, float* lse_scratch);

// Floats of one partial block [O | LSE] of `rows` query rows.
inline size_t partial_floats(const RingAttentionArgs& a, int64_t rows) {
  return static_cast<size_t>(rows) * a.hq * (a.d + 1);
}

// Times the compute of the ring's steps.
//  - Host, staged and other Comms: each step's compute is synchronised and
//    timed on the host; the wait for the transfer after it is the exposed time.
//  - Stream-ordered Comms (Comm::stream_ordered(): NCCL with a compute
//    stream) on a device backend: no host synchronisation per step. The Comm
//    orders its transfers after the compute queued before them and the
//    compute after the transfers it reads (BlockRing), so the host queues
//    every step without waiting while the GPU still computes earlier ones.
//    Steps are timed by Backend marks, read once at the end: a step's compute
//    is mark to mark, and the gap between one step's compute and the next
//    one's is counted as exposed communication (it also holds any host stall
//    between the two steps, which this path keeps rare).
class StepTimer {
 public:
  StepTimer(Backend& backend, const Comm& comm);
  // Around one step's compute. end() returns the host time the compute was
  // seen done (host timing), or nullptr (device timing).
  Status begin();
  Result<const Clock::time_point*> end(RingStats* stats);
  // After the last step: synchronises (device timing) and adds the marks'
  // compute and exposed times to stats.
  Status finish(RingStats* stats);

 private:
  Backend& backend_;
  bool device_;
  Clock::time_point t0_, t1_;
  std::vector<int> marks_;  // device timing: begin, end of every step
};

// A buffer the Comm moves, with a view in backend memory for compute, both
// taken from one slot of a workspace. When messages are staged, the two are
// separate (host and device) and sync_* copy between them; otherwise they
// are one backend buffer and sync_* do nothing.
class CommBuffer {
 public:
  Status init(const Comm& comm, Backend& backend, size_t bytes, RingWorkspace& ws,
              RingWorkspace::Slot slot);
  uint8_t* comm_ptr() { return staged_ ? host_ : dev_; }
  uint8_t* backend_ptr() { return dev_; }
  // backend view -> comm view, bytes [offset, offset + n)
  Status sync_to_comm(size_t offset, size_t n);
  // comm view -> backend view
  Status sync_to_backend(size_t offset, size_t n);
  size_t bytes() const { return bytes_; }

 private:
  Backend* backend_ = nullptr;
  bool staged_ = false;
  size_t bytes_ = 0;
  uint8_t* dev_ = nullptr;
  uint8_t* host_ = nullptr;
};

// The buffers of a BlockRing of `bytes`-byte blocks: the two travelling
// blocks (slots kBlock0, kBlock1: host memory when staged, else backend
// memory) and, staged, the backend copy of the current one (kMirror).
struct BlockRingMemory {
  uint8_t* travel[2] = {};
  uint8_t* mirror = nullptr;
};
Result<BlockRingMemory> take_block_ring(const Comm& comm, Backend& backend, size_t bytes,
                                        RingWorkspace& ws);

// Double-buffered ring of equal-sized blocks: the current block is computed on
// while it travels to next(), and the block from prev() lands in the other
// buffer. Staged: two host buffers travel and one backend buffer mirrors the
// current one.
//
// With a stream-ordered Comm and a device backend (NCCL), finish() does not
// wait on the host: the compute stream waits for the transfer on the device
// (CommRequest::wait_on_device), and the host learns the transfers' outcomes
// in drain(), after the last step is queued. (positions() reading a block
// waits for that block's transfer on the host: the host reads what it
// brought.) Without drain() (an early error return), the destructor waits
// for them so that no transfer outlives its buffers.
class BlockRing {
 public:
  struct Piece {
    const void* src;  // backend memory
    size_t bytes;
  };
  BlockRing(Comm& comm, Backend& backend, uint32_t tag_base)
      : comm_(comm), backend_(backend), tag_base_(tag_base) {}
  ~BlockRing();
  BlockRing(const BlockRing&) = delete;
  BlockRing& operator=(const BlockRing&) = delete;

  // Takes the buffers from `ws` and packs this rank's own block from `pieces`.
  Status init(const std::vector<Piece>& pieces, RingWorkspace& ws);
  // The current block in backend memory (valid until the next finish()).
  const uint8_t* block() const;
  // Host positions of the current block, which rank `owner` sent: the
  // caller's copy by_rank[owner] where given, else the `n` int32 values at
  // byte `offset` of the block.
  Result<const int32_t*> positions(std::span<const std::vector<int32_t>> by_rank, int owner,
                                   size_t offset, int64_t n);
  // Starts sending the current block to next(), receiving into the other buffer.
  Status start(int step);
  // Waits for the transfer (on the device, with a stream-ordered Comm); the received
  // block becomes current. Host waits add the total transfer time (ms) to
  // stats, and the exposed time (from *compute_done to the transfer's end)
  // when compute_done is given.
  Status finish(RingStats* stats, const Clock::time_point* compute_done);
  // Waits on the host for the transfers finish() left to the device; adds
  // their device-measured time to stats->comm_total_ms. Call after the last
  // step is queued and before synchronising the backend.
  Status drain(RingStats* stats);
  size_t bytes() const { return bytes_; }

 private:
  uint8_t* comm_buf(int i);

  Comm& comm_;
  Backend& backend_;
  const uint32_t tag_base_;
  bool staged_ = false;
  bool device_positions_ = false;  // positions() must copy from backend memory
  size_t bytes_ = 0;
  int cur_ = 0;
  BlockRingMemory mem_;  // staged: mem_.mirror holds a backend copy of travel[cur_]
  std::vector<int32_t> host_scratch_;
  bool device_wait_ = false;  // finish() waits on the device (see above)
  std::unique_ptr<CommRequest> pending_;
  std::vector<std::unique_ptr<CommRequest>>
      on_device_;  // waited on the device, not yet on the host
  Clock::time_point started_;
};

}  // namespace ringlm::cp_internal
