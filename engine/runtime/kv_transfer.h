// Moving whole KV shards between the leader and the other ranks (session
// save and restore) in bounded pieces.
//
// Why pieces: a Comm gives each collective one deadline (comm_timeout, 60 s
// by default), and a missed deadline is sticky (the group, and every
// session's KV on it, is lost). A shard can be tens of GB: in one collective
// it would need minutes on a 10 Gb/s link. In pieces of at most `piece`
// bytes, each collective moves at most `piece` bytes of KV in all (plus one
// byte per other rank), whatever the shard sizes and the world size, so its
// time is bounded by the link alone.
//
// Each collective moves one piece between the leader and one rank, straight
// from and into the shards' own buffers (no staging copy); every other rank
// exchanges a one-byte token with the leader in it, so that no rank runs
// ahead through the pieces it has no part in and then waits for its own
// under a deadline that started long before. Ranks run the pieces in the same
// order: rank 1's shard first to last, then rank 2's, ... Every rank must
// pass the same `sizes` (from the step's agreed reports or the plan) and the
// same `piece` (the leader's, carried in the plan), so that all run the same
// sequence of collectives: sum over r >= 1 of ceil(sizes[r] / piece).
//
// Errors: those of the Comm; kInvalidArgument when a buffer's size differs
// from sizes[rank] (checked before any collective, so the caller's peers
// then meet the deadline of the first one).
//
// Threads: as the Comm (its rank's thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "comm/comm.h"
#include "core/status.h"

namespace ringlm {

// The default piece: 256 MiB takes about 0.2 s at 10 Gb/s, 2 s at 1 Gb/s.
inline constexpr size_t kKvPieceBytes = size_t(256) << 20;

// 0 stands for kKvPieceBytes (a plan without the field).
inline size_t kv_piece_bytes_or_default(uint64_t piece) {
  return piece == 0 ? kKvPieceBytes : size_t(piece);
}

// Collectives one transfer of these shard sizes runs on every rank.
size_t kv_transfer_collectives(std::span<const size_t> sizes, size_t piece);

// Every rank's shard to the leader. `mine` (sizes[rank] bytes) is this
// rank's shard; on the leader it becomes (*leader_out)[0] without a copy,
// and (*leader_out)[r] receives rank r's. leader_out is ignored on the
// other ranks (may be null there). On failure *leader_out is cleared.
Status gather_kv_shards(Comm& comm, std::vector<uint8_t> mine, std::span<const size_t> sizes,
                        size_t piece, std::vector<std::vector<uint8_t>>* leader_out);

// The leader's shards[r] to rank r (r >= 1; the leader keeps shards[0]).
// `shards` is read on the leader only (one per rank); on the others *mine
// receives this rank's sizes[rank] bytes (mine is ignored on the leader).
Status scatter_kv_shards(Comm& comm, std::span<const std::span<const uint8_t>> shards,
                         std::span<const size_t> sizes, size_t piece, std::vector<uint8_t>* mine);

}  // namespace ringlm
