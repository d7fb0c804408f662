// Context-parallel attention of one layer: ring pass-KV, ring pass-Q and CP
// decode (docs/context-parallelism.md sections 3, 4 and 6).
//
// SPMD: every rank of the Comm calls the same function with the same shapes
// (tq, tk, hq, hkv, d) in the same order; only the data differ. The code talks
// to the left/right ring neighbours and to the collectives of Comm, nothing else.
//
// Memory: q, k, v, the positions and `out` are in the Backend's memory space.
// When the Comm moves host memory and the Backend does not (a GPU backend with
// GlooComm), messages are staged through host copies; a device Comm with a
// host Backend is kUnsupported. Every buffer a call needs comes from a
// RingWorkspace (cp/ring_workspace.h): the caller's (args.workspace), which
// the reserve_* functions below size in advance, or one of the call's own.
//
// Masking: every query and key carries its global position; padding rows
// have position -1 (they produce out = 0 and see nothing). For each query run
// (consecutive rows with consecutive positions, e.g. one chunk of the
// load-balanced sharding) and each KV block, attention runs only over the
// span of keys from the first to the last one visible to the run (valid and
// k_pos <= max q_pos of the run); a run with no visible key in a block costs
// no kernel call and no FLOPs. With the sharding of cp/sharding.h this skips
// exactly the fully masked (query chunk, key chunk) pairs. On device backends
// that span is further cut into runs of consecutive key positions (at most
// kMaxKeyRuns; see KeyRunSplit), so each call has contiguous positions.
//
// Errors: kInvalidArgument for inconsistent shapes or null pointers,
// kUnsupported as above, and any Comm (kDeadlineExceeded, kUnavailable,
// kCancelled) or Backend error, passed on with context. After an error the
// contents of `out` are unspecified; peers fail by their deadlines.
//
// Threads: one rank thread, as Comm and Backend.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "comm/comm.h"
#include "core/status.h"
#include "cp/policy.h"
#include "cp/ring_workspace.h"

namespace ringlm {

// Whether attention over a query run cuts its visible keys into runs of
// consecutive positions (one call per key run, merged by LSE), so that every
// call sees contiguous query and key positions: the layouts fused library
// attention (cuDNN) takes. kAuto: on device backends and for query runs of at
// least kKeyRunSplitMinRows rows (on the CPU it only adds merges).
enum class KeyRunSplit : uint8_t { kAuto, kNever, kAlways };
constexpr int64_t kKeyRunSplitMinRows = 64;

struct RingAttentionArgs {
  // This rank's queries; tq equal on all ranks (padded, position -1).
  const float* q = nullptr;        // [tq, hq, d]
  const int32_t* q_pos = nullptr;  // [tq]
  int64_t tq = 0;
  // This rank's whole KV shard (cached + new), contiguous; tk equal on all
  // ranks (padded by the caller to max_i(P_i) + ceil(T/N)-style bound,
  // position -1).
  const void* k = nullptr;         // [tk, hkv, d] of kv
  const void* v = nullptr;         // [tk, hkv, d] of kv
  const int32_t* k_pos = nullptr;  // [tk]
  int64_t tk = 0;
  kernels::KvType kv = kernels::KvType::kF32;  // element type of k and v (the KV cache's)
  int hq = 0;
  int hkv = 0;
  int d = 0;
  float scale = 0.f;  // usually 1/sqrt(d)
  KeyRunSplit key_runs = KeyRunSplit::kAuto;
  // Optional host copies of every rank's positions, indexed by rank (N
  // vectors each, empty spans: not given): the query positions [tq]
  // (pass-Q) and the KV shard positions [tk] (pass-KV) of each rank. With
  // them the ring plans every step on the host and reads no position back
  // from backend memory (on a device Comm such a read is a host sync per
  // step); without them positions are read from the blocks as they arrive.
  std::span<const std::vector<int32_t>> q_pos_by_rank;
  std::span<const std::vector<int32_t>> k_pos_by_rank;
  // Where the call takes its buffers (not owned; outlives the call). Null:
  // the call allocates its own and frees them before it returns.
  RingWorkspace* workspace = nullptr;
};

// Accumulated over calls (layers); zero-initialise once per request.
struct RingStats {
  uint64_t bytes_sent = 0;     // payload this rank sent to other ranks (message sizes)
  double compute_ms = 0;       // attention + merge time (host Comms: each step synchronised;
                               // stream-ordered Comms: timed by backend marks, no host sync
                               // per step)
  double comm_exposed_ms = 0;  // waiting on transfers after the compute of a step finished
                               // (stream-ordered Comms: the gaps between the steps' compute),
                               // plus
                               // the blocking collectives
  double comm_total_ms = 0;    // transfers from start to observed completion (ring steps:
                               // start to wait() return; stream-ordered Comms: the
                               // transfers' device time) plus the blocking collectives
  int steps = 0;               // ring steps: N per call
  int attention_calls = 0;     // Backend::attention_partial calls
  int skipped_blocks = 0;      // (query block, KV block) pairs fully masked, not computed
};

// Ring pass-KV (section 3). N steps; at step j this rank computes its queries
// against the KV block of rank (rank - j) mod N while sending that block to
// next() and receiving the following one from prev(); the partial results are
// merged into `out` as they come. K, V and positions travel as one message of
//   tk * (2*hkv*d*e + 4) bytes, e = 4 (f32 KV) or 2 (bf16 KV);
// this rank sends (N-1) of them.
// out: [tq, hq, d] (rows that see no key: 0).
Status ring_pass_kv(Comm& comm, Backend& backend, const RingAttentionArgs& args, float* out,
                    RingStats* stats);

// Ring pass-Q (section 4). KV stays; query blocks with their positions travel
// N-1 hops (message tq * (hq*d*4 + 4) bytes). Each rank computes the visiting
// block's partial (O, LSE) against its KV (fully masked: O = 0, LSE = -inf,
// no kernel call); then one all_to_all (blocks of tq*hq*(d+1)*4 bytes)
// returns every partial to the query block's home rank, which merges the N
// partials in rank order. Bytes sent: (N-1) * (Q message + partial block).
Status ring_pass_q(Comm& comm, Backend& backend, const RingAttentionArgs& args, float* out,
                   RingStats* stats);

// CP decode attention (section 6). `args.q`/`q_pos` are identical on all ranks
// (tq = number of decoding query rows); every rank gets the same `out`.
//  kAllGather: each rank computes the partial (O, LSE) of all queries against
//    its shard, all_gather of the partials (tq*hq*(d+1)*4 bytes per rank),
//    every rank merges the N partials in rank order, so outputs are bitwise
//    identical across ranks. Bytes sent: (N-1) * that block.
//  kRingPassQ: the queries are split into N groups of g = ceil(tq/N) rows
//    (group r homed on rank r, padded with position -1); the groups run ring
//    pass-Q as above (the query group travels, the partials return to its home
//    by all_to_all and merge there), then one all_gather of the merged groups
//    (g*hq*d*4 bytes per rank) gives every rank the whole output. Bytes sent:
//    (N-1) * (g*(hq*d*4 + 4) + g*hq*(d+1)*4 + g*hq*d*4).
//  kAuto means kAllGather. N == 1: local attention, no communication.
Status cp_decode_attention(Comm& comm, Backend& backend, const RingAttentionArgs& args, float* out,
                           RingStats* stats, DecodeVariant variant);

// The all-gather CP decode with this rank's local partial computed over its
// KV blocks in place (one Backend::attention_partial_blocks call: no gather
// into a contiguous shard). a.k, a.v, a.k_pos and a.tk are ignored.
// kUnsupported when the backend has no attention over key blocks.
Status cp_decode_attention_blocks(Comm& comm, Backend& backend, const RingAttentionArgs& a,
                                  std::span<const kernels::KeyBlock> blocks, float* out,
                                  RingStats* stats = nullptr);

// Take into shape.workspace (required) every buffer a call of the function
// named with these shapes (tq, tk, hq, hkv, d, kv, key_runs; the pointers are
// not read) on this Comm and Backend will take, so that the call allocates
// nothing. kInvalidArgument for inconsistent shapes or no workspace; the
// workspace's errors (kResourceExhausted or the backend's) when memory is short.
Status reserve_ring_pass_kv(const Comm& comm, Backend& backend, const RingAttentionArgs& shape);
Status reserve_ring_pass_q(const Comm& comm, Backend& backend, const RingAttentionArgs& shape);
// For cp_decode_attention with `variant`, or cp_decode_attention_blocks when
// `blocks` (shape.tk is then ignored).
Status reserve_cp_decode(const Comm& comm, Backend& backend, const RingAttentionArgs& shape,
                         DecodeVariant variant, bool blocks);

}  // namespace ringlm
