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
};

// The backend must outlive the store.
std::unique_ptr<KvStore> make_paged_kv_store(Backend& backend, const PagedKvOptions& opts);

// The token positions of a state blob that PagedKvStore::write_state wrote,
// read without its K/V (a restorer checks a session's shards with it before
// importing any). kCorruptData for a damaged blob or positions that are
// negative or not strictly increasing (read_state refuses those too).
Result<std::vector<int32_t>> paged_kv_state_positions(std::span<const uint8_t> blob);

}  // namespace ringlm
