// Engine::Session: the leader's record of one conversation.
#pragma once

#include <algorithm>
#include <atomic>
#include <mutex>
#include <span>
#include <vector>

#include "runtime/engine.h"

namespace ringlm {

// Length of the longest common prefix of two token sequences.
inline size_t common_prefix(std::span<const int32_t> a, std::span<const int32_t> b) {
  const size_t n = std::min(a.size(), b.size());
  return size_t(std::mismatch(a.begin(), a.begin() + n, b.begin()).first - a.begin());
}

struct Engine::Session {
  SessionId id = 0;
  SessionOptions opts;
  std::mutex busy;  // held for the duration of a request on this session
  // A request's start and end and cancel() change these under cancel_mu, so
  // a cancel() either reaches the request running when it is called or
  // none (never the next one). A leaf lock.
  std::mutex cancel_mu;
  std::atomic<bool> running{false};
  std::atomic<bool> cancel{false};

  // Written by the request holding `busy` (and, for the KV fields, the
  // engine's run_mu_), each write under state_mu, which readers without
  // `busy` take to copy them. A leaf lock: nothing is waited for under it.
  mutable std::mutex state_mu;
  std::vector<ChatMessage> messages;  // transcript
  // The tokens whose KV the ranks hold, token i at position i; after an
  // eviction, the history the next turn prefills to rebuild it.
  std::vector<int32_t> tokens;
  // Raw mode's token history goes on past the KV by these: the reply's last
  // token, which no step has fed yet, and what a cancelled prefill left. The
  // next generate prefills them first.
  std::vector<int32_t> unfed;
  bool kv_resident = false;           // false: never prefilled, or evicted
  bool evicted = false;               // the KV was evicted and not yet rebuilt
  uint64_t decode_steps = 0;          // decode ownership counter (round-robin over ranks)
  uint64_t last_used = 0;             // LRU clock value

  // The token history: tokens, then unfed (the caller holds `busy` or state_mu).
  std::vector<int32_t> history() const {
    std::vector<int32_t> h = tokens;
    h.insert(h.end(), unfed.begin(), unfed.end());
    return h;
  }
};

}  // namespace ringlm
