// TokenizerData: everything a Tokenizer is built from, as plain data.
//
// Filled from a model file's metadata (gguf_tokenizer.h for GGUF) or by hand in
// tests. Field meanings follow the GGUF `tokenizer.ggml.*` keys.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ringlm {

// GGUF token types (tokenizer.ggml.token_type), same numbering as
// SentencePiece's piece types.
enum class TokenType : int32_t {
  kUndefined = 0,  // treated as kNormal
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // <s>, <|im_start|>: matched in text only when parse_special
  kUserDefined = 4,  // always matched in text as a unit
  kUnused = 5,
  kByte = 6,  // SentencePiece byte fallback, text "<0xXX>"
};

struct TokenizerData {
  // "gpt2": byte-level BPE driven by merge ranks (GPT-2, Llama 3, SmolLM2, Qwen2).
  // "llama": SentencePiece-style BPE driven by scores (Llama 2, Mistral).
  std::string model;
  // tokenizer.ggml.pre: the pre-tokenizer regexes for "gpt2" models
  // ("smollm", "gpt2", "llama-bpe", "qwen2", "default", ...). Ignored for "llama".
  std::string pre;

  std::vector<std::string> tokens;   // id -> text (byte-level encoded for "gpt2")
  std::vector<int32_t> token_types;  // TokenType values; empty = all normal
  std::vector<float> scores;         // SentencePiece merge scores; empty = all 0
  std::vector<std::string> merges;   // "gpt2" only: "left right", best first

  // Special ids; -1 = absent.
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t eot_id = -1;
  int32_t unk_id = -1;
  int32_t pad_id = -1;

  bool add_bos = false;  // encode(add_special=true) prepends BOS
  bool add_eos = false;  // encode(add_special=true) appends EOS
  // "llama": prefix a space to the text (and after each special token), and
  // drop it again when decoding.
  bool add_space_prefix = false;
};

}  // namespace ringlm
