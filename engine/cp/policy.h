// Choosing the CP ring variant per request (docs/context-parallelism.md
// section 5), the decode variant, and the calibration numbers both rest on.
//
// Notation: T new tokens, P cached tokens, N ranks, H_q/H_kv heads, e bytes
// per element, C achieved attention FLOP/s, BW achieved link bytes/s per rank.
// FLOPs count 4*d per visible (query, key, head) pair (QK^T and PV), the same
// count the section 5 derivation uses.
//
// Thread-safety: pure functions, except measure_attention_flops, which uses
// the Backend (one rank thread at a time, as every Backend).
#pragma once

#include <cstdint>
#include <string>

#include "backend/backend.h"
#include "core/status.h"

namespace ringlm {

enum class CpVariant { kAuto, kPassKV, kPassQ };
enum class DecodeVariant { kAuto, kAllGather, kRingPassQ };

const char* cp_variant_name(CpVariant v);          // "auto", "pass-kv", "pass-q"
const char* decode_variant_name(DecodeVariant v);  // "auto", "all-gather", "ring-pass-q"

// Measured (or configured) throughput numbers of the running system.
struct CpCalibration {
  double attn_flops = 0;        // C: attention FLOP/s of one rank
  double link_bytes_per_s = 0;  // BW: ring link bandwidth per rank
};

struct PolicyInputs {
  int64_t new_tokens = 0;     // T
  int64_t cached_tokens = 0;  // P
  int world_size = 1;         // N
  int hq = 0;                 // H_q
  int hkv = 0;                // H_kv
  int head_dim = 0;           // d: only for the reported block sizes (0: not reported)
  double elem_bytes = 4;      // e: bytes per element of Q on the wire (and of K/V, unless:)
  double kv_elem_bytes = 0;   // e_kv: bytes per K/V element on the wire (0: e), e.g. 2 for a
                              // bf16 KV cache, whose blocks travel as stored
  CpCalibration calib;
  CpVariant forced = CpVariant::kAuto;  // kPassKV / kPassQ are honoured as given
};

struct PolicyDecision {
  CpVariant variant = CpVariant::kPassKV;  // never kAuto
  bool ring = true;                        // false when N == 1: attention is local, no ring at all
  bool forced = false;                     // the caller's forced variant was used
  double miss_rate = 1;                    // T / (T + P)
  // Message per ring step (D = H_q*d; 0 when head_dim was not given):
  // Q block T*D*e/N, KV block 2*(T+P)*D*(H_kv/H_q)*e_kv/N.
  double q_block_bytes = 0;
  double kv_block_bytes = 0;
  // Q blocks are the smaller messages: T/(T+P) <= 2*(H_kv/H_q)*(e_kv/e).
  bool q_smaller = false;
  // Pass-KV traffic hides under compute when T >= kv_hidden_min_t
  // = N*C*H_kv*e_kv / (2*H_q*BW) (independent of P).
  double kv_hidden_min_t = 0;
  // Pass-Q traffic hides under compute when T + P >= q_hidden_min_tp = N*e*C / (4*BW).
  double q_hidden_min_tp = 0;
  // Pass-KV when miss_rate >= miss_threshold
  // = 2*(H_kv/H_q)*(e_kv/e) - 4*T*BW/(N*C*e).
  double miss_threshold = 0;
  bool kv_hidden = false;  // T >= kv_hidden_min_t
  bool q_hidden = false;   // T + P >= q_hidden_min_tp
  // Memory (0 when head_dim was not given): pass-Q sends and receives the
  // partials of all N blocks at once, 2*T*H_q*(d+1)*4 bytes on every rank
  // whatever N; pass-KV's ring holds about 3 KV blocks (the rank's shard and
  // two travelling blocks).
  double pass_q_partial_bytes = 0;
  double pass_kv_ring_bytes = 0;
  std::string reason;      // one line, for stats and logs
};

// Above this, an automatic pass-Q whose partials also outweigh pass-KV's ring
// memory gives way to pass-KV: a slower step beats one that does not fit.
inline constexpr double kPassQMaxPartialBytes = double(size_t(1) << 30);

// The section 5 rule, with these exact inequalities:
//   pass-KV  iff  T >= N*C*H_kv*e_kv/(2*H_q*BW)
//                 or  T/(T+P) >= 2*(H_kv/H_q)*(e_kv/e) - 4*T*BW/(N*C*e)
//   pass-Q   otherwise.
// (Section 5 has one element size; with K/V smaller on the wire than Q, as a
// bf16 KV cache with f32 queries, the same derivation — pass-KV while its
// exposed time, KV/BW minus the step's compute, is at most pass-Q's Q/BW —
// gives the e_kv/e factor.)
// Full prefill (P = 0, miss rate 1) therefore always gives pass-KV when
// H_q > 2*H_kv (the right-hand side is then below 1); when H_q <= 2*H_kv the
// same two inequalities decide (Q blocks are then no larger than KV blocks).
// Then memory: an automatic pass-Q whose partials exceed both
// kPassQMaxPartialBytes and pass-KV's ring memory becomes pass-KV (a large
// prefill chunk over a long cache).
// A forced variant is returned as is (N == 1 still reports ring = false).
// kInvalidArgument for N < 1, T < 1, P < 0, H_q or H_kv < 1, H_q not a
// multiple of H_kv, e <= 0, e_kv < 0, or a non-positive C or BW when the choice is
// automatic and N > 1.
Result<PolicyDecision> choose_cp_variant(const PolicyInputs& in);

// Decode: ring pass-Q (+ all-gather of the merged output) or all-gather of the
// partials. A forced variant is honoured. Automatic: the variant with the
// smaller measured time per step when both were measured (> 0; ties go to
// all-gather, the simpler one), else all-gather, the doc's choice at small N.
struct DecodeTimings {
  double all_gather_ms = 0;  // measured time per decode attention, 0 = not measured
  double ring_pass_q_ms = 0;
};
DecodeVariant choose_decode_variant(DecodeVariant forced, const DecodeTimings& measured);

// Attention throughput of `backend`: times attention_partial on one fully
// visible block (tq queries at positions tk .. tk+tq-1 against tk keys at
// 0 .. tk-1, causal masking on, so every pair is computed as in the ring's
// off-diagonal blocks) and returns 4*tq*tk*hq*d / best time of `repeats`
// runs after one warm-up. kInvalidArgument for non-positive sizes; backend
// errors are passed on.
struct AttentionCalibrationOptions {
  int64_t tq = 512;
  int64_t tk = 512;
  int hq = 8;
  int hkv = 8;
  int d = 64;
  int repeats = 3;
};
Result<double> measure_attention_flops(Backend& backend,
                                       const AttentionCalibrationOptions& opts = {});

}  // namespace ringlm
