// Handles: what a ringlm_engine* or ringlm_session* really is.
//
// A handle is a key, not an address the library dereferences: its value is
// taken from an address range reserved once (mapped PROT_NONE, never
// readable) and never reused, and a table maps it to the object. So a
// closed, destroyed, forged or mixed-up handle is reported as NOT_FOUND
// instead of being a use-after-free, a call racing with close holds its own
// reference to the object, and the values are never small integers or
// pointers into a garbage-collected host's heap (which Go's collector, for
// one, would reject).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "core/status.h"

namespace ringlm::capi {

// A fresh handle value; kResourceExhausted once the reserved range is used
// up (2^28 handles) or when it could not be reserved.
Result<uintptr_t> new_handle_value();

// Thread-safe map from handle values to shared objects.
template <class T>
class HandleTable {
 public:
  Result<uintptr_t> add(std::shared_ptr<T> obj) {
    RINGLM_ASSIGN_OR_RETURN(uintptr_t h, new_handle_value());
    std::lock_guard<std::mutex> l(mu_);
    map_.emplace(h, std::move(obj));
    return h;
  }
  // Null when unknown.
  std::shared_ptr<T> get(const void* handle) const {
    std::lock_guard<std::mutex> l(mu_);
    auto it = map_.find(reinterpret_cast<uintptr_t>(handle));
    return it == map_.end() ? nullptr : it->second;
  }
  // Removes and returns the object; null when unknown.
  std::shared_ptr<T> take(const void* handle) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = map_.find(reinterpret_cast<uintptr_t>(handle));
    if (it == map_.end()) return nullptr;
    std::shared_ptr<T> obj = std::move(it->second);
    map_.erase(it);
    return obj;
  }

 private:
  mutable std::mutex mu_;  // guards map_
  std::unordered_map<uintptr_t, std::shared_ptr<T>> map_;
};

}  // namespace ringlm::capi
