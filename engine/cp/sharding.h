// Load-balanced causal sharding of a turn's new tokens over the CP ranks
// (docs/context-parallelism.md section 1), and round-robin decode ownership.
//
// The T new tokens of a turn, at global positions P .. P+T-1, are cut into 2N
// chunks of c = ceil(T / 2N) tokens: chunk j holds turn tokens [j*c, (j+1)*c)
// clipped to T, so the last chunks are short or empty when 2N does not divide T
// (T < 2N leaves some chunks empty; T = 1 puts the one token in chunk 0).
// Slot s is the chunk pair {s, 2N-1-s}; every slot has the same causal work
// up to the short tail. By default rank i takes slot i, as in the paper.
//
// A rank's local order is: the tokens of chunk s, then those of chunk 2N-1-s,
// then padding up to padded_count = 2*c, which is equal on all ranks so ring
// messages have one size. Padding rows carry position -1. Local positions are
// therefore increasing over the real rows, and a rank's KV shard, appended
// turn after turn in this order (decode tokens in between), keeps increasing
// positions as well.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/status.h"

namespace ringlm {

// One rank's share of a turn.
struct RankShard {
  int slot = 0;                      // chunk pair {slot, 2N-1-slot}
  std::vector<int64_t> token_index;  // [local_count] indices into the turn, in local order
  std::vector<int32_t> positions;    // [padded_count] global positions; -1 for padding rows

  int64_t local_count() const { return static_cast<int64_t>(token_index.size()); }
};

struct ShardPlan {
  int world_size = 1;               // N
  int64_t new_tokens = 0;           // T
  int64_t start_pos = 0;            // P: global position of the turn's first token
  int64_t chunk = 0;                // c = ceil(T / 2N); 0 when T == 0
  int64_t padded_count = 0;         // 2*c, rows per rank including padding
  std::vector<RankShard> ranks;     // [N]
  std::vector<int32_t> owner_rank;  // [T] rank holding turn token t
  std::vector<int64_t> owner_row;   // [T] its row in that rank's local order

  // Global position of a chunk's first token and the chunk's length.
  int64_t chunk_begin(int j) const;
  int64_t chunk_length(int j) const;
};

// Plan with rank i on slot i. kInvalidArgument for world_size < 1, T < 0,
// P < 0, or P + T beyond the int32 position range.
Result<ShardPlan> make_shard_plan(int64_t new_tokens, int64_t start_pos, int world_size);

// Plan that also keeps the ranks' accumulated KV balanced across turns:
// `kv_tokens_per_rank[r]` is the number of KV entries rank r already holds.
// When those are not all equal, the slot with the fewest new tokens goes to
// the rank holding the most KV (ties: lower rank first, lower slot first);
// when they are all equal this is the default plan. Pairing the largest loads
// with the smallest slots bounds the spread of per-rank KV after the turn by
// max(spread before, spread of the slot sizes), so the short tail of 2N-chunk
// sharding does not pile up on one rank over many turns. Per-turn causal work
// balance is unchanged (every slot is balanced). kInvalidArgument as above,
// or when kv_tokens_per_rank.size() != world_size.
Result<ShardPlan> make_shard_plan(int64_t new_tokens, int64_t start_pos, int world_size,
                                  const std::vector<int64_t>& kv_tokens_per_rank);

// The rank and local row holding turn token `token` (0 <= token < T).
// The rank that produces the turn's logits is token_owner(plan, T - 1).
struct TokenOwner {
  int rank = 0;
  int64_t row = 0;
};
TokenOwner token_owner(const ShardPlan& plan, int64_t token);

// Row movement between turn order ([T, row_bytes], row t = turn token t) and
// a rank's local order ([padded_count, row_bytes]). Host memory; any row type.
//
// local <- the turn rows `rank` owns; padding rows are zeroed.
void scatter_rows(const ShardPlan& plan, int rank, const void* turn, size_t row_bytes, void* local);
// turn rows owned by `rank` <- local rows (other turn rows untouched).
void gather_rows(const ShardPlan& plan, int rank, const void* local, size_t row_bytes, void* turn);
// turn <- every rank's local block, `all` being [N, padded_count, row_bytes]
// in rank order (the layout Comm::all_gather returns).
void gather_all_rows(const ShardPlan& plan, const void* all, size_t row_bytes, void* turn);

// The rank that appends the KV of decode step `step` (0-based count of decode
// tokens of the session, across all its turns; not reset per turn):
//   owner = (first_owner + step) % world_size.
// Stateless given the session's decode counter; over any window of k
// consecutive steps every rank receives floor(k/N) or ceil(k/N) tokens.
int decode_owner(uint64_t step, int world_size, int first_owner = 0);

}  // namespace ringlm
