// PagedKvStore: KvStore in fixed-size pages of tokens allocated from a Backend.
#pragma once

#include <memory>

#include "kv/kv_store.h"

namespace ringlm {

struct PagedKvOptions {
  KvShape shape;
  int64_t page_tokens = 256;
  size_t budget_bytes = size_t(8) << 30;
};

// The backend must outlive the store.
std::unique_ptr<KvStore> make_paged_kv_store(Backend& backend, const PagedKvOptions& opts);

}  // namespace ringlm
