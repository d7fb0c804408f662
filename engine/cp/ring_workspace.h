// RingWorkspace: the memory of CP attention, reused over the layers of a step.
//
// The functions of cp/ring_attention.h take every buffer they need (partial
// results, the ring's travelling blocks, staged host copies, the gathered KV
// shard) from a workspace instead of allocating per call. Given one
// (RingAttentionArgs::workspace), a buffer once taken serves every later call
// that fits in it; without one, a call uses a workspace of its own.
//
// The reserve_* functions of ring_attention.h take in advance what a call of
// given shapes will take. A rank that reserves its step's workspace before
// the ranks agree to run the step takes no backend memory in the ring's own
// code: when memory is short it fails the agreement, and every rank backs
// out, instead of stopping mid-ring and leaving its peers waiting for
// messages that never come (runtime/rank_executor.cc). Not covered: scratch
// a backend keeps inside its ops (the CUDA backend's attention and cuDNN
// workspaces grow on the first step of a larger shape) and small host
// vectors (positions, plans).
//
// A slot that must grow gets a new buffer; the old one is kept until the
// workspace is destroyed, since transfers or kernels queued on it may still
// be running (and on a device, a free would wait for them).
//
// Threads: one rank thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "core/status.h"

namespace ringlm {

class RingWorkspace {
 public:
  enum Slot : int {
    kAccum,    // accumulated LSE, or a local partial's LSE
    kPartial,  // pass-KV: one block's partial (O, LSE)
    kBlock0,   // BlockRing: the two travelling blocks ...
    kBlock1,
    kMirror,   // ... and the backend copy of the current one when staged
    kSend,     // collective send buffer (CommBuffer)
    kRecv,     // collective receive buffer (CommBuffer)
    kSplit,    // partials of key runs past the first (block_partial)
    kGroupQ,    // decode pass-Q: this rank's query group and its positions
    kGroupMine, // decode pass-Q: the merged output of this rank's group ...
    kGroupAll,  // ... and of every group
    kShard,    // the layer's KV shard gathered contiguous (runtime/cp_attention)
    kSlotCount
  };

  RingWorkspace() = default;
  RingWorkspace(const RingWorkspace&) = delete;
  RingWorkspace& operator=(const RingWorkspace&) = delete;

  // Backend memory of at least `bytes` for `slot` (its old contents are lost
  // when it grows). kResourceExhausted, or the backend's error, when the
  // allocation fails; the slot then keeps its old buffer.
  Result<uint8_t*> backend_buffer(Backend& backend, Slot slot, size_t bytes);
  // Host memory of at least `bytes` for `slot` (staged messages), as above.
  Result<uint8_t*> host_buffer(Slot slot, size_t bytes);

  // Bytes held (backend and host), replaced buffers included.
  size_t held_bytes() const { return held_bytes_; }
  // Buffers allocated since construction.
  int allocations() const { return allocations_; }

 private:
  static size_t grown(size_t have, size_t want);

  Buffer backend_[kSlotCount];
  std::vector<uint8_t> host_[kSlotCount];
  std::vector<Buffer> replaced_;
  std::vector<std::vector<uint8_t>> replaced_host_;
  size_t held_bytes_ = 0;
  int allocations_ = 0;
};

}  // namespace ringlm
