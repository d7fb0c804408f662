#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <initializer_list>

namespace ringlm {
namespace {

// The patterns llama.cpp and HF tokenizers use for each family.
// GPT-2 (HF ByteLevel's regex, including its final `|\s+`).
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama 3 (tiktoken cl100k-style: case-insensitive contractions, numbers in
// groups of up to three).
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2: as Llama 3, digits one at a time.
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// SmolLM2 / StarCoder: HF Sequence[Digits(individual_digits), ByteLevel].
constexpr const char* kDigit = R"(\p{N})";
// llama.cpp's fallback for BPE vocabularies without a known pre-tokenizer.
constexpr const char* kDefaultPunct = R"([\p{P}\$\+<=>\^~\|]+)";
constexpr const char* kDefaultNumbers = R"(\p{N}+)";
constexpr const char* kDefaultTriples = R"([0-9][0-9][0-9])";

struct Family {
  std::initializer_list<const char*> names;
  std::initializer_list<const char*> regexes;
  bool ignore_merges;
};

const std::array<Family, 5>& families() {
  static const std::array<Family, 5> kFamilies = {{
      {{"gpt2", "gpt-2", "mpt", "olmo", "jais"}, {kGpt2}, false},
      {{"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"},
       {kDigit, kGpt2},
       false},
      {{"llama3", "llama-bpe", "llama-v3"}, {kLlama3}, true},
      {{"qwen2", "stablelm2", "deepseek-r1-qwen"}, {kQwen2}, false},
      {{"default", ""}, {kDefaultPunct, kGpt2, kDefaultNumbers, kDefaultTriples}, false},
  }};
  return kFamilies;
}

}  // namespace

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::Create(std::string_view name) {
  const Family* family = nullptr;
  std::string known;
  for (const Family& f : families()) {
    for (const char* n : f.names) {
      if (name == n) family = &f;
      if (*n) known += std::string(known.empty() ? "" : ", ") + n;
    }
  }
  if (family == nullptr) {
    return Unsupported("pre-tokenizer '" + std::string(name) +
                       "' is not supported (known: " + known + ")");
  }
  std::unique_ptr<PreTokenizer> pre(new PreTokenizer());
  pre->name_ = std::string(name);
  pre->ignore_merges_ = family->ignore_merges;
  for (const char* pattern : family->regexes) {
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    pcre2_code* code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED,
                      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      return Internal("pre-tokenizer regex failed to compile at " + std::to_string(err_offset) +
                      ": " + reinterpret_cast<const char*>(msg));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional speed-up; interpreted otherwise
    pre->regexes_.push_back(code);
  }
  return pre;
}

PreTokenizer::~PreTokenizer() {
  for (void* code : regexes_) pcre2_code_free(static_cast<pcre2_code*>(code));
}

Status PreTokenizer::split(std::string_view text, std::vector<std::string_view>* pieces) const {
  if (text.empty()) return Status::Ok();
  std::vector<std::string_view> current{text}, next;
  for (const void* code : regexes_) {
    next.clear();
    for (std::string_view piece : current) RINGLM_RETURN_IF_ERROR(split_one(code, piece, &next));
    current.swap(next);
  }
  pieces->insert(pieces->end(), current.begin(), current.end());
  return Status::Ok();
}

Status PreTokenizer::split_one(const void* code_ptr, std::string_view text,
                               std::vector<std::string_view>* pieces) const {
  const auto* code = static_cast<const pcre2_code*>(code_ptr);
  // Match data per call keeps split() thread-safe.
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
      pcre2_match_data_create_from_pattern(code, nullptr), &pcre2_match_data_free);
  if (!md) return ResourceExhausted("pre-tokenizer: out of memory");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0, emitted = 0;
  while (pos < text.size()) {
    const int rc = pcre2_match(code, subject, text.size(), pos, 0, md.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof(msg));
      return Internal(std::string("pre-tokenizer regex match failed: ") +
                      reinterpret_cast<const char*>(msg));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    const size_t start = ov[0], end = ov[1];
    if (end == start) {  // no pattern here matches empty; guard against looping anyway
      pos = start + 1;
      continue;
    }
    if (start > emitted) pieces->push_back(text.substr(emitted, start - emitted));
    pieces->push_back(text.substr(start, end - start));
    emitted = pos = end;
  }
  if (emitted < text.size()) pieces->push_back(text.substr(emitted));
  return Status::Ok();
}

}  // namespace ringlm
