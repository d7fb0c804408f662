#include "cp/sharding.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

namespace ringlm {

int64_t ShardPlan::chunk_begin(int j) const {
  return std::min<int64_t>(static_cast<int64_t>(j) * chunk, new_tokens);
}

int64_t ShardPlan::chunk_length(int j) const {
  return std::min<int64_t>(static_cast<int64_t>(j + 1) * chunk, new_tokens) - chunk_begin(j);
}

namespace {

Status check_plan_args(int64_t new_tokens, int64_t start_pos, int world_size) {
  if (world_size < 1) return InvalidArgument("shard plan: world_size must be >= 1");
  if (new_tokens < 0 || start_pos < 0) {
    return InvalidArgument("shard plan: negative token count or start position");
  }
  if (start_pos + new_tokens > std::numeric_limits<int32_t>::max()) {
    return InvalidArgument("shard plan: positions beyond the int32 range (P + T = " +
                           std::to_string(start_pos + new_tokens) + ")");
  }
  return Status::Ok();
}

// Fills plan.ranks[r] from slot_of_rank[r].
ShardPlan build_plan(int64_t new_tokens, int64_t start_pos, int n,
                     const std::vector<int>& slot_of_rank) {
  ShardPlan plan;
  plan.world_size = n;
  plan.new_tokens = new_tokens;
  plan.start_pos = start_pos;
  plan.chunk = (new_tokens + 2 * n - 1) / (2 * n);
  plan.padded_count = 2 * plan.chunk;
  plan.ranks.resize(n);
  plan.owner_rank.assign(new_tokens, -1);
  plan.owner_row.assign(new_tokens, -1);
  for (int r = 0; r < n; ++r) {
    RankShard& shard = plan.ranks[r];
    shard.slot = slot_of_rank[r];
    shard.positions.assign(plan.padded_count, -1);
    const int chunks[2] = {shard.slot, 2 * n - 1 - shard.slot};
    for (int j : chunks) {
      const int64_t begin = plan.chunk_begin(j), len = plan.chunk_length(j);
      for (int64_t t = begin; t < begin + len; ++t) {
        const int64_t row = shard.local_count();
        shard.positions[row] = static_cast<int32_t>(start_pos + t);
        shard.token_index.push_back(t);
        plan.owner_rank[t] = r;
        plan.owner_row[t] = row;
      }
    }
  }
  return plan;
}

}  // namespace

Result<ShardPlan> make_shard_plan(int64_t new_tokens, int64_t start_pos, int world_size) {
  RINGLM_RETURN_IF_ERROR(check_plan_args(new_tokens, start_pos, world_size));
  std::vector<int> slots(world_size);
  std::iota(slots.begin(), slots.end(), 0);
  return build_plan(new_tokens, start_pos, world_size, slots);
}

Result<ShardPlan> make_shard_plan(int64_t new_tokens, int64_t start_pos, int world_size,
                                  const std::vector<int64_t>& kv_tokens_per_rank) {
  RINGLM_RETURN_IF_ERROR(check_plan_args(new_tokens, start_pos, world_size));
  if (kv_tokens_per_rank.size() != static_cast<size_t>(world_size)) {
    return InvalidArgument("shard plan: kv_tokens_per_rank has " +
                           std::to_string(kv_tokens_per_rank.size()) + " entries, world_size " +
                           std::to_string(world_size));
  }
  const int n = world_size;
  std::vector<int> slot_of_rank(n);
  std::iota(slot_of_rank.begin(), slot_of_rank.end(), 0);
  const bool all_equal = std::all_of(kv_tokens_per_rank.begin(), kv_tokens_per_rank.end(),
                                     [&](int64_t x) { return x == kv_tokens_per_rank.front(); });
  if (!all_equal) {
    // Slot sizes from the default plan's chunk arithmetic.
    ShardPlan probe;
    probe.new_tokens = new_tokens;
    probe.chunk = (new_tokens + 2 * n - 1) / (2 * n);
    std::vector<int64_t> slot_size(n);
    for (int s = 0; s < n; ++s) {
      slot_size[s] = probe.chunk_length(s) + probe.chunk_length(2 * n - 1 - s);
    }
    std::vector<int> ranks(n), slots(n);
    std::iota(ranks.begin(), ranks.end(), 0);
    std::iota(slots.begin(), slots.end(), 0);
    // Most loaded rank first; smallest slot first.
    std::stable_sort(ranks.begin(), ranks.end(),
                     [&](int a, int b) { return kv_tokens_per_rank[a] > kv_tokens_per_rank[b]; });
    std::stable_sort(slots.begin(), slots.end(),
                     [&](int a, int b) { return slot_size[a] < slot_size[b]; });
    for (int i = 0; i < n; ++i) slot_of_rank[ranks[i]] = slots[i];
  }
  return build_plan(new_tokens, start_pos, n, slot_of_rank);
}

TokenOwner token_owner(const ShardPlan& plan, int64_t token) {
  return TokenOwner{plan.owner_rank[token], plan.owner_row[token]};
}

void scatter_rows(const ShardPlan& plan, int rank, const void* turn, size_t row_bytes,
                  void* local) {
  const RankShard& shard = plan.ranks[rank];
  const auto* src = static_cast<const uint8_t*>(turn);
  auto* dst = static_cast<uint8_t*>(local);
  const int64_t n = shard.local_count();
  for (int64_t row = 0; row < n; ++row) {
    std::memcpy(dst + row * row_bytes, src + shard.token_index[row] * row_bytes, row_bytes);
  }
  if (plan.padded_count > n) {
    std::memset(dst + n * row_bytes, 0, (plan.padded_count - n) * row_bytes);
  }
}

void gather_rows(const ShardPlan& plan, int rank, const void* local, size_t row_bytes, void* turn) {
  const RankShard& shard = plan.ranks[rank];
  const auto* src = static_cast<const uint8_t*>(local);
  auto* dst = static_cast<uint8_t*>(turn);
  for (int64_t row = 0; row < shard.local_count(); ++row) {
    std::memcpy(dst + shard.token_index[row] * row_bytes, src + row * row_bytes, row_bytes);
  }
}

void gather_all_rows(const ShardPlan& plan, const void* all, size_t row_bytes, void* turn) {
  const auto* src = static_cast<const uint8_t*>(all);
  const size_t block = static_cast<size_t>(plan.padded_count) * row_bytes;
  for (int r = 0; r < plan.world_size; ++r) gather_rows(plan, r, src + r * block, row_bytes, turn);
}

int decode_owner(uint64_t step, int world_size, int first_owner) {
  if (world_size <= 1) return 0;
  const uint64_t n = static_cast<uint64_t>(world_size);
  return static_cast<int>((static_cast<uint64_t>(first_owner) % n + step % n) % n);
}

}  // namespace ringlm
