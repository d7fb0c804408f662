// PreTokenizer: splits text into words before byte-level BPE, with the regex
// sequence named by a GGUF `tokenizer.ggml.pre` value.
//
// Each regex of the sequence splits every piece produced by the previous one;
// the matches and the unmatched stretches between them both become pieces, so
// the pieces always concatenate back to the input. Regexes run through PCRE2
// with UTF, UCP (Unicode \s \p{L} ...) and MATCH_INVALID_UTF: invalid UTF-8
// never matches and ends up in pieces of its own.
//
// Immutable after Create; split() is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ringlm {

class PreTokenizer {
 public:
  // `name` is a tokenizer.ggml.pre value: "gpt2" ("gpt-2"), "smollm" (and the
  // other StarCoder-style names), "llama3" ("llama-bpe", "llama-v3"), "qwen2",
  // "default" (also ""). kUnsupported for any other name, listing these.
  static Result<std::unique_ptr<PreTokenizer>> Create(std::string_view name);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Appends the pieces of `text` to `pieces` (views into `text`).
  // kInternal if PCRE2 fails (it does not on valid patterns; this reports
  // resource limits).
  Status split(std::string_view text, std::vector<std::string_view>* pieces) const;

  // Llama 3 tokenizers take a whole pre-token that is itself in the vocabulary
  // without running merges (HF `ignore_merges`).
  bool ignore_merges() const { return ignore_merges_; }
  const std::string& name() const { return name_; }

 private:
  PreTokenizer() = default;
  Status split_one(const void* code, std::string_view text,
                   std::vector<std::string_view>* pieces) const;

  std::string name_;
  std::vector<void*> regexes_;  // pcre2_code_8*, owned
  bool ignore_merges_ = false;
};

}  // namespace ringlm
