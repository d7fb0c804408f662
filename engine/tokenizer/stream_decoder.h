// StreamDecoder: turns generated token ids into UTF-8 text as they arrive.
//
// Tokens can end in the middle of a character (byte-level BPE splits rare
// characters and emoji over several tokens; SentencePiece byte fallback emits
// one byte per token). push() returns only complete characters and holds back
// a trailing sequence that may still complete; bytes that can never become
// valid are replaced by U+FFFD (one per maximal invalid subpart). flush()
// returns what is held back (as U+FFFD, being unfinished) at the end.
//
// The concatenated output equals utf8_sanitize(tokenizer.decode(ids)), so it
// equals decode() whenever that is valid UTF-8.
//
// Not thread-safe: one decoder per stream. The tokenizer must outlive it.
#pragma once

#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.h"

namespace ringlm {

class StreamDecoder {
 public:
  // render_control as in Tokenizer::decode().
  explicit StreamDecoder(const Tokenizer* tokenizer, bool render_control = true);

  // The text that token `id` completes (possibly empty).
  std::string push(int32_t id);
  // Whatever is still held back; the decoder is then as new.
  std::string flush();
  // Drops held-back bytes and starts a new stream.
  void reset();

  // Bytes currently held back (at most 3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  bool render_control_;
  bool after_special_ = true;
  std::string pending_;
};

}  // namespace ringlm
