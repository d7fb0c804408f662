// Options of an Engine and of one generation request.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attention_params.h"
#include "core/status.h"
#include "cp/policy.h"
#include "runtime/kv_transfer.h"
#include "runtime/sampler.h"

namespace ringlm {

// Element type of the KV cache. kAuto: bf16 on CUDA (half the memory and the
// ring traffic of f32, the type the tensor cores read), f32 on the CPU.
enum class KvCacheType : uint8_t { kAuto, kF32, kBF16 };

inline kernels::KvType resolve_kv_type(KvCacheType t, std::string_view backend) {
  if (t == KvCacheType::kF32) return kernels::KvType::kF32;
  if (t == KvCacheType::kBF16) return kernels::KvType::kBF16;
  return backend == "cuda" ? kernels::KvType::kBF16 : kernels::KvType::kF32;
}

// Element type of the weight matrices. kAuto: f32 on the CPU (the reference),
// bf16 on CUDA (its only type). On the CPU, kBF16 halves the weights' memory
// and the bytes a decode step streams, kQ8_0 (8-bit integers, an f32 scale
// per 32: kernels/cpu/matmul_q8.h) about quarters them; CUDA refuses both
// kF32 and kQ8_0.
enum class WeightType : uint8_t { kAuto, kF32, kBF16, kQ8_0 };

// kAuto made concrete for a backend ("cpu" or "cuda").
inline WeightType resolve_weight_type(WeightType t, std::string_view backend) {
  if (t != WeightType::kAuto) return t;
  return backend == "cuda" ? WeightType::kBF16 : WeightType::kF32;
}

// "auto", "f32", "bf16" or "q8_0".
const char* weight_type_name(WeightType t);

// CP decode's variant unless one is chosen: all-gather, the faster of the two
// at batch 1 (docs/benchmarks.md).
inline constexpr DecodeVariant kDefaultDecodeVariant = DecodeVariant::kAllGather;

struct EngineOptions {
  std::string model_path;
  // Context parallelism: world_size ranks. With an empty `store`, the engine
  // starts world_size rank threads in this process (loopback Gloo). With a
  // store ("file:/dir", "/dir" or "redis://host:port"), this process is rank
  // `rank` of a multi-process group; rank 0 leads, the others run
  // serve_worker().
  int world_size = 1;
  int rank = 0;
  std::string store;
  std::string hostname = "127.0.0.1";  // address peers use to reach this rank
  int threads_per_rank = 0;            // 0: cores / ranks in this process
  // Compute backend: "cpu" or "cuda". CUDA rank r of this process uses device
  // (device + r) % cuda_device_count(). With nccl, ring traffic between GPU
  // ranks goes over NCCL (the control plane stays on Gloo); otherwise over
  // Gloo through host memory.
  std::string backend = "cpu";
  int device = 0;
  bool nccl = false;
  // Ranks of one process (store empty) exchange through shared memory
  // (LocalComm); with in_process_gloo they use Gloo over loopback TCP
  // instead, the transport of a multi-process group, in one process.
  bool in_process_gloo = false;
  size_t kv_budget_bytes = size_t(4) << 30;  // per rank
  int64_t kv_page_tokens = 256;
  // Every rank of a group stores K/V in the leader's (rank 0's) resolved type.
  KvCacheType kv_cache_type = KvCacheType::kAuto;
  // The weight matrices' element type. Every rank of a group must resolve to
  // the same (workers pass the same option; CUDA ranks hold bf16): a group
  // whose ranks differ fails to start with kFailedPrecondition.
  WeightType weight_type = WeightType::kAuto;
  int64_t prefill_chunk = 4096;  // tokens per prefill step (cancel point)
  // Prefix sharing: a session whose KV is not resident (its first turn, or
  // after an eviction) and whose prompt starts with at least this many
  // tokens another session's KV holds takes a copy of that KV on every rank
  // instead of prefilling those tokens. 0: off.
  int64_t share_prefix_min_tokens = 256;
  std::chrono::milliseconds comm_timeout{60000};
  // Session save and restore move KV shards between the ranks in pieces of
  // at most this many bytes, each collective under its own comm_timeout
  // (runtime/kv_transfer.h). The leader's value holds for the whole group.
  // Internal: tests lower it; the default suits links of 1 Gb/s and faster.
  size_t kv_piece_bytes = kKvPieceBytes;
  // A follower that hears nothing from the leader for this long (no step and
  // no heartbeat; an idle leader sends one every quarter of it) leaves the
  // group with kUnavailable: the leader's host is gone or stopped. The
  // leader's value holds for the whole group.
  std::chrono::milliseconds leader_timeout{60000};
  // CP policy: a forced variant, and calibration numbers (0 = measure).
  CpVariant variant = CpVariant::kAuto;
  DecodeVariant decode_variant = kDefaultDecodeVariant;
  double attn_flops = 0;
  double link_bytes_per_s = 0;
  std::string chat_template;  // override name ("chatml", "llama3", ...); empty: from the model
};

inline constexpr int kMaxWorldSize = 1024;
// Shorter leader timeouts leave too little room for a busy host to send its
// heartbeats on time.
inline constexpr std::chrono::milliseconds kMinLeaderTimeout{200};
// The longest comm or leader timeout (30 days): longer ones overflow the
// deadlines computed from them.
inline constexpr std::chrono::milliseconds kMaxTimeout{std::chrono::hours(24 * 30)};
// More OpenMP threads than this per rank is a typo, and far more (100,000)
// would crash the OpenMP runtime.
inline constexpr int kMaxThreadsPerRank = 4096;

// kInvalidArgument naming the first option out of range (world size, rank,
// threads, prefill chunk, KV page and budget, timeout).
Status check_engine_options(const EngineOptions& o);

struct SessionOptions {
  std::string system_prompt;  // empty: the template's default, if any
};

struct GenerateOptions {
  SamplingParams sampling;
  int max_tokens = 256;
  std::vector<std::string> stop;
  CpVariant variant = CpVariant::kAuto;  // overrides the engine's for this request
  bool want_prompt_logits = false;       // keep the logits after the prefill
  // Each generated token's log-probability in TurnResult::logprobs, with its
  // top_logprobs (0..kMaxTopLogprobs) most likely alternatives; top_logprobs
  // > 0 implies logprobs.
  bool logprobs = false;
  int top_logprobs = 0;
};

enum class FinishReason { kStop, kLength, kCancelled, kContextFull };
const char* finish_reason_name(FinishReason r);

// Per-request statistics (docs/context-parallelism.md vocabulary).
struct TurnStats {
  int world_size = 1;                    // N
  std::string variant = "local";         // local, pass-kv, pass-q
  std::string decode_variant = "local";  // local, all-gather, ring-pass-q
  int64_t new_tokens = 0;                // T prefilled this turn
  int64_t cached_tokens = 0;             // P reused from the session's KV
  int64_t generated_tokens = 0;
  double prefill_ms = 0;
  double decode_ms = 0;
  double prefill_tok_s = 0;
  double decode_tok_s = 0;
  double comm_hidden_ms = 0;         // transfer time overlapped by compute (max over ranks)
  double comm_exposed_ms = 0;        // transfer time not hidden (max over ranks)
  std::vector<uint64_t> bytes_sent;  // [N]
  std::vector<int64_t> kv_tokens;    // [N] this session's KV tokens per rank
  std::vector<uint64_t> kv_bytes;    // [N] bytes each rank's KV store holds (all sessions)
  int evictions = 0;                 // idle sessions evicted to make room
  bool rebuilt = false;              // the KV had been evicted and was rebuilt
  // Of cached_tokens, those copied from another session's KV (prefix sharing).
  int64_t shared_tokens = 0;
};

}  // namespace ringlm
