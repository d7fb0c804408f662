#include "cp/ring_workspace.h"

#include <algorithm>
#include <new>
#include <string>

namespace ringlm {

size_t RingWorkspace::grown(size_t have, size_t want) {
  // An empty slot gets what was asked (reserve sizes it exactly); a slot
  // that outgrows its buffer grows by half again, so that calls of slowly
  // growing shapes do not replace it every time.
  return have == 0 ? want : std::max(want, have + have / 2);
}

Result<uint8_t*> RingWorkspace::backend_buffer(Backend& backend, Slot slot, size_t bytes) {
  Buffer& b = backend_[slot];
  if (b.data() && b.bytes() >= bytes) return b.as<uint8_t>();
  const size_t want = grown(b.data() ? b.bytes() : 0, std::max<size_t>(bytes, 1));
  Result<Buffer> fresh = backend.alloc(want);
  if (!fresh.ok()) return fresh.status().WithContext("ring workspace");
  if (b.data()) replaced_.push_back(std::move(b));
  b = std::move(fresh).value();
  held_bytes_ += want;
  ++allocations_;
  return b.as<uint8_t>();
}

Result<uint8_t*> RingWorkspace::host_buffer(Slot slot, size_t bytes) {
  std::vector<uint8_t>& h = host_[slot];
  if (!h.empty() && h.size() >= bytes) return h.data();
  const size_t want = grown(h.size(), std::max<size_t>(bytes, 1));
  std::vector<uint8_t> fresh;
  try {
    fresh.resize(want);
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("ring workspace: cannot allocate " + std::to_string(want) +
                             " bytes of host memory");
  } catch (const std::length_error&) {
    return ResourceExhausted("ring workspace: " + std::to_string(want) +
                             " bytes of host memory is beyond this host");
  }
  if (!h.empty()) replaced_host_.push_back(std::move(h));
  h = std::move(fresh);
  held_bytes_ += want;
  ++allocations_;
  return h.data();
}

}  // namespace ringlm
