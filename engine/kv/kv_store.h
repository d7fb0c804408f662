// KvStore: one rank's KV cache, per sequence, with every token's global position.
//
// A sequence is the KV shard of one session on this rank. Tokens are appended
// in slots; a slot holds, for every layer, K and V [hkv, d] plus the token's
// global position (shared by all layers). Attention reads a layer's tokens as
// spans (contiguous runs, one per page) and never relies on slot order:
// masking compares positions.
//
// Memory comes from the Backend (K/V and positions live in backend memory);
// the store keeps a host copy of the positions for planning. The byte budget
// caps the pages this store may hold (a page shared by copies counts once);
// an append beyond it fails with kResourceExhausted and changes nothing (the
// engine then evicts an idle sequence and retries).
//
// Threads: not thread-safe; owned and used by one rank thread.
#pragma once

#include <climits>
#include <cstdint>
#include <span>
#include <vector>

#include "attention_params.h"
#include "backend/backend.h"
#include "core/status.h"

namespace ringlm {

using SeqId = uint64_t;

struct KvShape {
  int n_layers = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  kernels::KvType type = kernels::KvType::kF32;  // element type of stored K and V
  int64_t token_elems() const { return int64_t(n_kv_heads) * head_dim; }  // per K (or V) row
  int64_t token_bytes() const { return token_elems() * int64_t(kernels::kv_elem_bytes(type)); }
};

// A contiguous run of one layer's tokens, in backend memory.
// k, v [n, hkv, d] (of shape().type) and pos [n] of one contiguous run of slots: a key block
// as attention over several blocks takes it (kernels/attention_params.h).
using KvSpan = kernels::KeyBlock;

class KvStore {
 public:
  virtual ~KvStore() = default;

  virtual const KvShape& shape() const = 0;

  // kFailedPrecondition when the sequence exists already.
  virtual Status create(SeqId seq) = 0;
  // Frees the sequence's pages. kNotFound for an unknown sequence.
  virtual Status drop(SeqId seq) = 0;
  virtual bool contains(SeqId seq) const = 0;
  // Tokens held for the sequence (0 for an unknown one).
  virtual int64_t length(SeqId seq) const = 0;
  // Global positions of the sequence's tokens, in slot order (host copy).
  virtual std::vector<int32_t> positions(SeqId seq) const = 0;

  // Appends n slots with the given global positions (host pointer). Returns
  // the first new slot. On failure nothing changes.
  virtual Result<int64_t> append(SeqId seq, const int32_t* pos, int64_t n) = 0;
  // Writes K and V ([n, hkv, d] f32, backend memory) of `layer` into slots
  // [first, first + n), which must have been appended, converting them to
  // shape().type. Slots appended since the last copy() are in pages of the
  // sequence's own; a write into older slots that a copy shares first
  // copies their pages, and fails with kResourceExhausted (changing
  // nothing) when the budget has no room for them.
  virtual Status write(SeqId seq, int layer, int64_t first, const float* k, const float* v,
                       int64_t n) = 0;
  // Keeps the first n slots and drops the rest (a page that an append had
  // copied from a shared one stays the sequence's own).
  virtual Status truncate(SeqId seq, int64_t n) = 0;
  // Creates `dst` as a copy of the first `n` slots of `src` (all of them
  // when n is beyond its length): the same positions and K/V (a fork of a
  // conversation, or a shared prefix). The two share their pages, copy on
  // write: the copy takes no memory of its own until one of them writes
  // into a shared page (an append into the last, partly filled one), which
  // then gets a page of its own first; later writes to either leave the
  // other as it is. bytes_used() counts each page once, and a page leaves
  // it with the last sequence that holds it. kNotFound for an unknown src,
  // kFailedPrecondition when dst exists. On failure nothing changes.
  virtual Status copy(SeqId src, SeqId dst, int64_t n = INT64_MAX) = 0;

  // The layer's tokens as spans in slot order.
  virtual std::vector<KvSpan> spans(SeqId seq, int layer) const = 0;
  // Copies the layer's tokens contiguously into k, v ([cap, hkv, d] of
  // shape().type) and pos ([cap]) in backend memory; slots past length() up
  // to cap get pos = -1 and zero K/V (padding). kOutOfRange when length() > cap.
  virtual Status gather(SeqId seq, int layer, void* k, void* v, int32_t* pos,
                        int64_t cap) const = 0;

  virtual size_t bytes_used() const = 0;
  virtual size_t budget_bytes() const = 0;
  // Bytes one more token would need in the worst case (a new page).
  virtual size_t bytes_per_token() const = 0;
  // Tokens a page holds: a sequence of n tokens takes ceil(n / page) pages.
  virtual int64_t page_tokens() const = 0;
  // Tokens the whole budget holds when every page of it is full: no
  // sequence on this store can grow beyond this.
  virtual int64_t capacity_tokens() const = 0;

  // Serialises the sequence (positions + every layer's K/V in the store's
  // element type, host byte order) so that read_state() on a store of the
  // same shape and type restores it exactly.
  virtual Status write_state(SeqId seq, std::vector<uint8_t>* out) const = 0;
  // Creates `seq` from a write_state() blob of a store with the same layers,
  // heads and head dim; K/V of another element type are converted (f32 ->
  // bf16 rounds, bf16 -> f32 is exact). kCorruptData when the blob does not
  // match this store's shape or is truncated; kFailedPrecondition when the
  // sequence exists.
  virtual Status read_state(SeqId seq, std::span<const uint8_t> blob) = 0;
};

}  // namespace ringlm
