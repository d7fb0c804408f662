#include "handles.h"

#include <sys/mman.h>

#include <atomic>

namespace ringlm::capi {
namespace {

constexpr size_t kRangeBytes = size_t(1) << 32;
constexpr uintptr_t kStride = 16;  // handle values look like aligned pointers

uintptr_t reserve_range() {
  void* p =
      mmap(nullptr, kRangeBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? 0 : reinterpret_cast<uintptr_t>(p);
}

}  // namespace

Result<uintptr_t> new_handle_value() {
  static const uintptr_t base = reserve_range();  // kept for the life of the process
  static std::atomic<uint64_t> next{1};
  if (base == 0) return ResourceExhausted("could not reserve the handle address range");
  const uint64_t n = next.fetch_add(1, std::memory_order_relaxed);
  if (n >= kRangeBytes / kStride) return ResourceExhausted("handle values exhausted");
  return base + n * kStride;
}

}  // namespace ringlm::capi
