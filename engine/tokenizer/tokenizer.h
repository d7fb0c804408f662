// Tokenizer: text <-> token ids for the model families the engine runs.
//
//   "gpt2"  byte-level BPE with merge ranks and a regex pre-tokenizer
//           (SmolLM2, Llama 3, Qwen2, GPT-2)
//   "llama" SentencePiece-style BPE with scores and byte fallback
//           (Llama 2, Mistral)
//
// Special tokens: kUserDefined token texts are always recognised in input
// text; kControl (and kUnknown) texts such as "<|im_start|>" only when
// encode() is asked to parse_special. Matching is leftmost-longest.
//
// Immutable after Create; every method is thread-safe (the BPE word cache
// inside is guarded by its own mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/status.h"
#include "tokenizer/special_trie.h"
#include "tokenizer/tokenizer_data.h"

namespace ringlm {

class BpeEncoder;
class PreTokenizer;
class SpmEncoder;

class Tokenizer {
 public:
  // Validates and indexes `data`. Errors:
  //   kUnsupported  unknown model kind, or unknown pre-tokenizer for "gpt2"
  //                 (the message names it and lists the supported ones)
  //   kCorruptData  no tokens; token_types/scores size differs from tokens;
  //                 a token type outside 0..6; a special id out of range;
  //                 add_bos/add_eos without the id; a malformed merge or one
  //                 naming tokens not in the vocabulary; a bad <0xXX> token
  static Result<std::unique_ptr<Tokenizer>> Create(TokenizerData data);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Encodes `text` (UTF-8; invalid bytes are encoded as byte tokens where the
  // vocabulary has them). add_special: prepend BOS / append EOS when the
  // model's add_bos / add_eos flags say so. parse_special: recognise control
  // token texts in `text`. kInternal only if the regex engine fails.
  Result<std::vector<int32_t>> encode(std::string_view text, bool add_special,
                                      bool parse_special) const;
  // As encode with parse_special (a prompt rendered by ChatTemplate), except
  // inside `literal`: sorted, disjoint
  // byte ranges [begin, end) of `text` (a prompt's message content) where no
  // control token is recognised, so that typed control-token text stays text.
  // Ranges beyond the text are cut to it.
  Result<std::vector<int32_t>> encode_prompt(
      std::string_view text, bool add_special,
      std::span<const std::pair<size_t, size_t>> literal) const;

  // Raw bytes of one token: byte-level decoded for "gpt2", U+2581 -> ' ' and
  // <0xXX> -> that byte for "llama"; a control token gives its text. Empty for
  // an id out of range.
  std::string token_bytes(int32_t id) const;

  // Concatenated token bytes, without the space the encoder prefixes for
  // add_space_prefix (dropped at the start and after each special token).
  // render_control = false leaves out control tokens (BOS, <|im_end|>, ...).
  // Out-of-range ids contribute nothing. May return invalid UTF-8 when the
  // ids split a character; StreamDecoder handles that for streaming.
  std::string decode(std::span<const int32_t> ids, bool render_control = true) const;

  // decode() one token at a time. `after_special` starts true and is updated
  // for the next call; appends to `out`.
  void decode_append(int32_t id, bool render_control, bool* after_special, std::string* out) const;

  // True for EOS, EOT and control tokens that end a turn or a document by
  // their text (<|im_end|>, <|eot_id|>, <|end_of_text|>, <|endoftext|>,
  // <|end|>, <end_of_turn>, <|eom_id|>, <EOT>).
  bool is_end_of_generation(int32_t id) const;

  int32_t bos() const { return data_.bos_id; }  // -1 when absent
  int32_t eos() const { return data_.eos_id; }
  int32_t eot() const { return data_.eot_id; }
  int32_t unk() const { return data_.unk_id; }
  int32_t pad() const { return data_.pad_id; }
  bool add_bos() const { return data_.add_bos; }
  int vocab_size() const { return static_cast<int>(data_.tokens.size()); }
  const std::string& model() const { return data_.model; }

  // Vocabulary text of `id` as stored (not byte-decoded); empty if out of range.
  const std::string& token_text(int32_t id) const;
  TokenType token_type(int32_t id) const;
  // Id of the token whose vocabulary text is exactly `text`.
  std::optional<int32_t> find_token(std::string_view text) const;

 private:
  struct Fragment {
    std::string_view text;  // raw text when token < 0
    int32_t token;
  };

  explicit Tokenizer(TokenizerData data);
  Status init();
  // Splits `text` at special tokens: user-defined ones always, control ones
  // when parse_special, and then not where they touch a `literal` range.
  void partition(std::string_view text, bool parse_special,
                 std::span<const std::pair<size_t, size_t>> literal,
                 std::vector<Fragment>* out) const;
  Result<std::vector<int32_t>> encode_fragments(std::span<const Fragment> fragments,
                                                bool add_special) const;
  Status encode_gpt2(std::span<const Fragment> fragments, std::vector<int32_t>* out) const;
  void encode_llama(std::span<const Fragment> fragments, std::vector<int32_t>* out) const;
  bool valid_id(int32_t id) const { return id >= 0 && id < vocab_size(); }

  TokenizerData data_;
  std::unordered_map<std::string, int32_t> token_ids_;
  SpecialTrie specials_;  // control, unknown and user-defined token texts
  std::unordered_set<int32_t> end_of_generation_;
  std::unique_ptr<PreTokenizer> pre_;  // "gpt2"
  std::unique_ptr<BpeEncoder> bpe_;    // "gpt2"
  std::unique_ptr<SpmEncoder> spm_;    // "llama"
};

}  // namespace ringlm
