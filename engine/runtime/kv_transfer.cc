#include "runtime/kv_transfer.h"

#include <algorithm>
#include <new>
#include <string>

namespace ringlm {
namespace {

Status check_plan(const Comm& comm, std::span<const size_t> sizes, size_t piece) {
  if (sizes.size() != size_t(comm.size()))
    return InvalidArgument("kv transfer: " + std::to_string(sizes.size()) + " shard sizes for " +
                           std::to_string(comm.size()) + " ranks");
  if (piece == 0) return InvalidArgument("kv transfer: a piece of 0 bytes");
  return Status::Ok();
}

// One collective moving `len` bytes from `sender` (reading `from`) to
// `receiver` (writing `to`); the leader is one of the two. Every other rank
// exchanges a one-byte token with the leader, against the data's direction
// there (so the leader still reads one buffer and writes one): it leaves
// this piece only once the leader reached it, so the deadline of its next
// piece runs from there, not from the start of the whole transfer (a piece
// with nothing to move would return at once, and a rank whose shard comes
// last would wait for all the earlier ranks' pieces under one deadline).
Status move_piece(Comm& comm, int sender, int receiver, const uint8_t* from, uint8_t* to,
                  size_t len) {
  const int n = comm.size(), me = comm.rank();
  std::vector<size_t> send(size_t(n), 0), recv(size_t(n), 0);
  std::vector<uint8_t> tokens_out(size_t(n), 1), tokens_in(size_t(n), 0);
  const void* src = tokens_out.data();
  void* dst = tokens_in.data();
  if (me == sender) {
    send[size_t(receiver)] = len;
    src = from;
  }
  if (me == receiver) {
    recv[size_t(sender)] = len;
    dst = to;
  }
  const bool leader_sends = sender == 0;
  for (int k = 0; k < n; ++k) {
    if (k == sender || k == receiver) continue;
    if (me == 0) (leader_sends ? recv : send)[size_t(k)] = 1;
    if (me == k) (leader_sends ? send : recv)[0] = 1;
  }
  return comm.all_to_allv(src, send, dst, recv);
}

// Grows the receiving shard to `len` bytes (reserved whole, `total`, the
// first time: address space only; the zero-fill of a piece is short next to
// the collective's deadline the sender already waits under). When memory
// runs out, the peers are inside this transfer's collectives and would wait
// for their deadline: the comm is aborted so that they fail at once (the
// group is lost either way), and *st says why.
bool grow(Comm& comm, std::vector<uint8_t>* shard, size_t total, size_t len, Status* st) {
  try {
    if (shard->capacity() < total) shard->reserve(total);
    shard->resize(len);
    return true;
  } catch (const std::bad_alloc&) {
    comm.abort();
    *st = ResourceExhausted("kv transfer: rank " + std::to_string(comm.rank()) +
                            " cannot hold a shard of " + std::to_string(total) +
                            " bytes; its comm was aborted");
    return false;
  }
}

}  // namespace

size_t kv_transfer_collectives(std::span<const size_t> sizes, size_t piece) {
  size_t n = 0;
  for (size_t r = 1; r < sizes.size(); ++r) n += sizes[r] / piece + (sizes[r] % piece != 0);
  return n;
}

Status gather_kv_shards(Comm& comm, std::vector<uint8_t> mine, std::span<const size_t> sizes,
                        size_t piece, std::vector<std::vector<uint8_t>>* leader_out) {
  RINGLM_RETURN_IF_ERROR(check_plan(comm, sizes, piece));
  const int n = comm.size(), me = comm.rank();
  if (mine.size() != sizes[size_t(me)])
    return InvalidArgument("kv gather: rank " + std::to_string(me) + " holds " +
                           std::to_string(mine.size()) + " bytes, the plan says " +
                           std::to_string(sizes[size_t(me)]));
  if (me == 0) {
    if (!leader_out) return InvalidArgument("kv gather: the leader needs an output");
    leader_out->assign(size_t(n), {});
    (*leader_out)[0] = std::move(mine);
  }
  Status st;
  for (int r = 1; r < n && st.ok(); ++r) {
    const size_t size = sizes[size_t(r)];
    std::vector<uint8_t>* dst = me == 0 ? &(*leader_out)[size_t(r)] : nullptr;
    for (size_t off = 0; off < size && st.ok();) {
      const size_t len = std::min(piece, size - off);
      if (dst && !grow(comm, dst, size, off + len, &st)) break;
      st = move_piece(comm, r, 0, me == r ? mine.data() + off : nullptr,
                      dst ? dst->data() + off : nullptr, len);
      off += len;
    }
  }
  if (!st.ok() && me == 0) leader_out->clear();
  return st;
}

Status scatter_kv_shards(Comm& comm, std::span<const std::span<const uint8_t>> shards,
                         std::span<const size_t> sizes, size_t piece, std::vector<uint8_t>* mine) {
  RINGLM_RETURN_IF_ERROR(check_plan(comm, sizes, piece));
  const int n = comm.size(), me = comm.rank();
  if (me == 0) {
    bool match = shards.size() == size_t(n);
    for (size_t r = 0; match && r < shards.size(); ++r) match = shards[r].size() == sizes[r];
    if (!match) return InvalidArgument("kv scatter: the shards do not match the plan's sizes");
  } else {
    if (!mine) return InvalidArgument("kv scatter: a follower needs an output");
    mine->clear();  // grown a piece at a time, as in gather_kv_shards
  }
  Status st;
  for (int r = 1; r < n && st.ok(); ++r) {
    const size_t size = sizes[size_t(r)];
    for (size_t off = 0; off < size && st.ok();) {
      const size_t len = std::min(piece, size - off);
      if (me == r && !grow(comm, mine, size, off + len, &st)) break;
      st = move_piece(comm, 0, r, me == 0 ? shards[size_t(r)].data() + off : nullptr,
                      me == r ? mine->data() + off : nullptr, len);
      off += len;
    }
  }
  return st;
}

}  // namespace ringlm
