// PagedKvStore: KvStore in fixed-size pages of tokens allocated from a Backend.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "kv/kv_store.h"

namespace ringlm {

struct PagedKvOptions {
  KvShape shape;
  int64_t page_tokens = 256;
  size_t budget_bytes = size_t(8) << 30;
  // read_state() stages K and V as f32 in backend memory this many tokens
  // at a time (and as much again on the host for bf16 blobs); 0: as many as
  // kKvRestoreStagingBytes of f32 K hold. Tests lower it.
  int64_t restore_slice_tokens = 0;
};

// read_state()'s default staging: 64 MiB for K and as much for V, whatever
// the shard's length, so a restore that fits the KV budget does not fail on
// staging a whole layer.
inline constexpr size_t kKvRestoreStagingBytes = size_t(64) << 20;

// The backend must outlive the store.
std::unique_ptr<KvStore> make_paged_kv_store(Backend& backend, const PagedKvOptions& opts);

// The token positions of a state blob that PagedKvStore::write_state wrote,
// read without its K/V (a restorer checks a session's shards with it before
// importing any). kCorruptData for a damaged blob or positions that are
// negative or not strictly increasing (read_state refuses those too).
Result<std::vector<int32_t>> paged_kv_state_positions(std::span<const uint8_t> blob);

}  // namespace ringlm
