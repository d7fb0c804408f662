// Byte-level BPE merging (GPT-2 style), one pre-tokenized word at a time.
//
// A word's bytes start as one symbol each (the GPT-2 byte alphabet's tokens);
// the adjacent pair with the best (lowest) merge rank is merged repeatedly,
// leftmost first on ties, until no pair has a merge: the same order HF
// tokenizers and llama.cpp apply. Bytes without a token in the vocabulary are
// dropped (both references do the same).
//
// Immutable after Create except for the word cache (guarded by its mutex);
// encode_word() is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace ringlm {

class BpeEncoder {
 public:
  // `tokens` are byte-level encoded token texts; `token_ids` maps text -> id
  // for the tokens merges may produce. kCorruptData for a malformed merge
  // (not "left right") or one whose parts or result are not tokens.
  static Result<std::unique_ptr<BpeEncoder>> Create(
      const std::vector<std::string>& tokens,
      const std::unordered_map<std::string, int32_t>& token_ids,
      const std::vector<std::string>& merges, bool ignore_merges);

  // Appends the ids of `word` (raw bytes) to `out`.
  void encode_word(std::string_view word, std::vector<int32_t>* out) const;

 private:
  BpeEncoder() = default;
  void merge_word(std::string_view word, std::vector<int32_t>* out) const;

  struct Merge {
    int32_t rank;
    int32_t result;
  };
  static uint64_t pair_key(int32_t l, int32_t r) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
  }

  static constexpr size_t kCacheMaxEntries = 1 << 16;
  static constexpr size_t kCacheMaxWordBytes = 128;

  std::array<int32_t, 256> byte_token_{};  // -1 where the alphabet char is not a token
  std::unordered_map<uint64_t, Merge> merges_;
  const std::unordered_map<std::string, int32_t>* token_ids_ = nullptr;  // for ignore_merges
  bool ignore_merges_ = false;

  mutable std::mutex cache_mu_;
  // Guarded by cache_mu_. Cleared wholesale when full.
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace ringlm
