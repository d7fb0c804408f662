#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cmath>

#include "tokenizer/bpe.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/spm.h"
#include "tokenizer/unicode.h"

namespace ringlm {
namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581

// Control-token texts that end generation besides EOS/EOT (llama.cpp's list).
constexpr std::string_view kEndOfGenerationTexts[] = {
    "<|eot_id|>",    "<|im_end|>",      "<|end|>",    "<end_of_turn>",
    "<|endoftext|>", "<|end_of_text|>", "<|eom_id|>", "<EOT>",
};

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0;;) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) {
      out.append(s.substr(pos));
      return out;
    }
    out.append(s.substr(pos, hit - pos)).append(to);
    pos = hit + from.size();
  }
}

}  // namespace

Tokenizer::Tokenizer(TokenizerData data) : data_(std::move(data)) {}
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::Create(TokenizerData data) {
  std::unique_ptr<Tokenizer> tok(new Tokenizer(std::move(data)));
  RINGLM_RETURN_IF_ERROR(tok->init());
  return tok;
}

Status Tokenizer::init() {
  const TokenizerData& d = data_;
  if (d.model != "gpt2" && d.model != "llama") {
    return Unsupported(
        "tokenizer model '" + d.model +
        "' is not supported (supported: gpt2 byte-level BPE, llama SentencePiece BPE)");
  }
  const size_t n = d.tokens.size();
  if (n == 0 || n > static_cast<size_t>(INT32_MAX)) {
    return CorruptData("tokenizer vocabulary size " + std::to_string(n) + " is invalid");
  }
  if (!d.token_types.empty() && d.token_types.size() != n) {
    return CorruptData("tokenizer has " + std::to_string(d.token_types.size()) +
                       " token types for " + std::to_string(n) + " tokens");
  }
  if (!d.scores.empty() && d.scores.size() != n) {
    return CorruptData("tokenizer has " + std::to_string(d.scores.size()) + " scores for " +
                       std::to_string(n) + " tokens");
  }
  for (size_t i = 0; i < d.scores.size(); ++i) {
    // SPM merges order by score: a NaN would break that order's rules.
    if (std::isnan(d.scores[i]))
      return CorruptData("token " + std::to_string(i) + " has a score that is not a number");
  }
  for (size_t i = 0; i < d.token_types.size(); ++i) {
    if (d.token_types[i] < 0 || d.token_types[i] > static_cast<int32_t>(TokenType::kByte)) {
      return CorruptData("token " + std::to_string(i) + " has unknown type " +
                         std::to_string(d.token_types[i]));
    }
  }
  const std::pair<const char*, int32_t> ids[] = {{"bos", d.bos_id},
                                                 {"eos", d.eos_id},
                                                 {"eot", d.eot_id},
                                                 {"unknown", d.unk_id},
                                                 {"padding", d.pad_id}};
  for (const auto& [what, id] : ids) {
    if (id != -1 && !valid_id(id)) {
      return CorruptData(std::string(what) + " token id " + std::to_string(id) +
                         " is out of range [0, " + std::to_string(n) + ")");
    }
  }
  if (d.add_bos && d.bos_id < 0) return CorruptData("add_bos is set but there is no bos token");
  if (d.add_eos && d.eos_id < 0) return CorruptData("add_eos is set but there is no eos token");

  token_ids_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const auto id = static_cast<int32_t>(i);
    token_ids_.emplace(d.tokens[i], id);  // the first of duplicate texts wins
    const TokenType t = token_type(id);
    if ((t == TokenType::kControl || t == TokenType::kUnknown || t == TokenType::kUserDefined) &&
        !d.tokens[i].empty()) {
      specials_.add(d.tokens[i], id);
    }
    if (t == TokenType::kControl) {
      for (std::string_view eog : kEndOfGenerationTexts) {
        if (d.tokens[i] == eog) end_of_generation_.insert(id);
      }
    }
  }
  if (d.eos_id >= 0) end_of_generation_.insert(d.eos_id);
  if (d.eot_id >= 0) end_of_generation_.insert(d.eot_id);

  if (d.model == "gpt2") {
    RINGLM_ASSIGN_OR_RETURN(pre_, PreTokenizer::Create(d.pre));
    RINGLM_ASSIGN_OR_RETURN(
        bpe_, BpeEncoder::Create(d.tokens, token_ids_, d.merges, pre_->ignore_merges()));
  } else {
    RINGLM_ASSIGN_OR_RETURN(spm_, SpmEncoder::Create(d));
  }
  return Status::Ok();
}

const std::string& Tokenizer::token_text(int32_t id) const {
  static const std::string kEmpty;
  return valid_id(id) ? data_.tokens[id] : kEmpty;
}

TokenType Tokenizer::token_type(int32_t id) const {
  if (!valid_id(id) || data_.token_types.empty()) return TokenType::kNormal;
  const auto t = static_cast<TokenType>(data_.token_types[id]);
  return t == TokenType::kUndefined ? TokenType::kNormal : t;
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
  auto it = token_ids_.find(std::string(text));
  if (it == token_ids_.end()) return std::nullopt;
  return it->second;
}

bool Tokenizer::is_end_of_generation(int32_t id) const { return end_of_generation_.count(id) > 0; }

void Tokenizer::partition(std::string_view text, bool parse_special,
                          std::span<const std::pair<size_t, size_t>> literal,
                          std::vector<Fragment>* out) const {
  size_t raw_start = 0;
  size_t next_literal = 0;  // first range that does not end at or before i
  std::vector<int32_t> starting;  // special tokens starting at i, longest first
  for (size_t i = 0; i < text.size();) {
    while (next_literal < literal.size() && literal[next_literal].second <= i) ++next_literal;
    int32_t hit = -1;
    specials_.prefixes_longest_first(text.substr(i), &starting);
    for (int32_t id : starting) {
      if (token_type(id) != TokenType::kUserDefined) {
        if (!parse_special) continue;
        const size_t end = i + data_.tokens[id].size();
        if (next_literal < literal.size() && literal[next_literal].first < end) continue;
      }
      hit = id;
      break;
    }
    if (hit < 0) {
      ++i;
      continue;
    }
    if (i > raw_start) out->push_back({text.substr(raw_start, i - raw_start), -1});
    out->push_back({{}, hit});
    i += data_.tokens[hit].size();
    raw_start = i;
  }
  if (raw_start < text.size()) out->push_back({text.substr(raw_start), -1});
}

Result<std::vector<int32_t>> Tokenizer::encode(std::string_view text, bool add_special,
                                               bool parse_special) const {
  std::vector<Fragment> fragments;
  partition(text, parse_special, {}, &fragments);
  return encode_fragments(fragments, add_special);
}

Result<std::vector<int32_t>> Tokenizer::encode_prompt(
    std::string_view text, bool add_special,
    std::span<const std::pair<size_t, size_t>> literal) const {
  std::vector<Fragment> fragments;
  partition(text, /*parse_special=*/true, literal, &fragments);
  return encode_fragments(fragments, add_special);
}

Result<std::vector<int32_t>> Tokenizer::encode_fragments(std::span<const Fragment> fragments,
                                                         bool add_special) const {
  std::vector<int32_t> out;
  if (add_special && data_.add_bos) out.push_back(data_.bos_id);
  if (bpe_) {
    RINGLM_RETURN_IF_ERROR(encode_gpt2(fragments, &out));
  } else {
    encode_llama(fragments, &out);
  }
  if (add_special && data_.add_eos) out.push_back(data_.eos_id);
  return out;
}

Status Tokenizer::encode_gpt2(std::span<const Fragment> fragments,
                              std::vector<int32_t>* out) const {
  std::vector<std::string_view> words;
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out->push_back(f.token);
      continue;
    }
    words.clear();
    RINGLM_RETURN_IF_ERROR(pre_->split(f.text, &words));
    for (std::string_view w : words) bpe_->encode_word(w, out);
  }
  return Status::Ok();
}

void Tokenizer::encode_llama(std::span<const Fragment> fragments, std::vector<int32_t>* out) const {
  // As llama.cpp and HF's Llama tokenizers: the space prefix goes before the
  // text and before any text that follows a special token.
  bool after_special = true;
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out->push_back(f.token);
      after_special = true;
      continue;
    }
    std::string text = (data_.add_space_prefix && after_special) ? " " : "";
    text.append(f.text);
    spm_->encode(replace_all(text, " ", kSpmSpace), out);
    after_special = false;
  }
}

std::string Tokenizer::token_bytes(int32_t id) const {
  if (!valid_id(id)) return {};
  const std::string& text = data_.tokens[id];
  const TokenType type = token_type(id);
  if (type == TokenType::kControl || type == TokenType::kUnknown ||
      type == TokenType::kUserDefined) {
    return text;
  }
  if (spm_) {
    if (type == TokenType::kByte) {
      const int b = spm_->byte_of(id);
      return b < 0 ? std::string() : std::string(1, static_cast<char>(b));
    }
    return replace_all(text, kSpmSpace, " ");
  }
  // Byte-level: map each alphabet character back to its byte; characters
  // outside the alphabet (none in well-formed vocabularies) are kept.
  std::string out;
  std::string_view s = text;
  while (!s.empty()) {
    const unicode::Utf8Scan sc = unicode::utf8_scan(s);
    const size_t len = sc.kind == unicode::Utf8Scan::kValid ? sc.len : 1;
    const int b = sc.kind == unicode::Utf8Scan::kValid ? unicode::unicode_to_byte(sc.cp) : -1;
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
    } else {
      out.append(s.substr(0, len));
    }
    s.remove_prefix(len);
  }
  return out;
}

void Tokenizer::decode_append(int32_t id, bool render_control, bool* after_special,
                              std::string* out) const {
  if (!valid_id(id)) return;
  const TokenType type = token_type(id);
  const bool special =
      type == TokenType::kControl || type == TokenType::kUnknown || type == TokenType::kUserDefined;
  if (special) {
    if (render_control || type != TokenType::kControl) out->append(data_.tokens[id]);
    *after_special = true;
    return;
  }
  std::string piece = token_bytes(id);
  if (spm_ && data_.add_space_prefix && *after_special && type == TokenType::kNormal &&
      !piece.empty() && piece[0] == ' ') {
    piece.erase(0, 1);
  }
  out->append(piece);
  *after_special = false;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_control) const {
  std::string out;
  bool after_special = true;
  for (int32_t id : ids) decode_append(id, render_control, &after_special, &out);
  return out;
}

}  // namespace ringlm
