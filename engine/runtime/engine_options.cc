#include "runtime/engine_options.h"

namespace ringlm {

const char* weight_type_name(WeightType t) {
  switch (t) {
    case WeightType::kAuto: return "auto";
    case WeightType::kF32: return "f32";
    case WeightType::kBF16: return "bf16";
    case WeightType::kQ8_0: return "q8_0";
  }
  return "?";
}

Status check_engine_options(const EngineOptions& o) {
  if (o.world_size < 1 || o.world_size > kMaxWorldSize)
    return InvalidArgument("world_size must be in [1, " + std::to_string(kMaxWorldSize) +
                           "], got " + std::to_string(o.world_size));
  if (o.rank < 0 || o.rank >= o.world_size)
    return InvalidArgument("rank must be in [0, world_size), got " + std::to_string(o.rank));
  if (o.threads_per_rank < 0 || o.threads_per_rank > kMaxThreadsPerRank)
    return InvalidArgument("threads per rank must be in [0, " +
                           std::to_string(kMaxThreadsPerRank) + "] (0: the cores / local ranks), got " +
                           std::to_string(o.threads_per_rank));
  if (o.prefill_chunk < 1) return InvalidArgument("prefill_chunk must be positive");
  if (o.share_prefix_min_tokens < 0)
    return InvalidArgument("share_prefix_min_tokens must be >= 0 (0: off)");
  if (o.kv_page_tokens < 1) return InvalidArgument("kv_page_tokens must be positive");
  if (o.kv_budget_bytes == 0) return InvalidArgument("the KV budget must be positive");
  if (o.comm_timeout.count() < 1) return InvalidArgument("comm_timeout must be positive");
  if (o.kv_piece_bytes == 0) return InvalidArgument("kv_piece_bytes must be positive");
  if (o.leader_timeout < kMinLeaderTimeout || o.leader_timeout > kMaxTimeout)
    return InvalidArgument("leader_timeout must be in [" +
                           std::to_string(kMinLeaderTimeout.count()) + " ms, 30 days]");
  if (o.comm_timeout > kMaxTimeout)
    return InvalidArgument("comm_timeout must be at most 30 days");
  return Status::Ok();
}

}  // namespace ringlm
