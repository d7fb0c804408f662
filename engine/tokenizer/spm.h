// SentencePiece-style BPE (Llama 2, Mistral): merges driven by piece scores.
//
// The text (spaces already escaped to U+2581) starts as one symbol per UTF-8
// character; the adjacent pair whose concatenation is a piece with the highest
// score is merged repeatedly, leftmost first on ties, as sentencepiece's
// bpe_model does. Symbols that are not pieces at the end fall back to byte
// tokens <0xXX> (or the unknown token when the vocabulary has none).
//
// Immutable after Create; encode() is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "tokenizer/tokenizer_data.h"

namespace ringlm {

class SpmEncoder {
 public:
  // Only kNormal (and kUndefined) pieces take part in merging. kCorruptData
  // when a byte token's text is not "<0xXX>".
  static Result<std::unique_ptr<SpmEncoder>> Create(const TokenizerData& data);

  // Appends the ids of `text` (already space-escaped) to `out`.
  void encode(std::string_view text, std::vector<int32_t>* out) const;

  // The byte a kByte token stands for, or -1.
  int byte_of(int32_t id) const;

 private:
  SpmEncoder() = default;
  void emit(std::string_view symbol, std::vector<int32_t>* out) const;

  std::unordered_map<std::string, int32_t> pieces_;  // mergeable pieces
  std::vector<float> scores_;
  std::array<int32_t, 256> byte_token_{};  // -1 where absent
  std::unordered_map<int32_t, uint8_t> token_byte_;
  int32_t unk_id_ = -1;
};

// Parses "<0xXX>" (upper- or lower-case hex); -1 otherwise.
int parse_byte_token(std::string_view text);

}  // namespace ringlm
