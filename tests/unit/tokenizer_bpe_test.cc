// Byte-level BPE: SmolLM2 against goldens from HF tokenizers
// (tests/tools/make_tokenizer_goldens.py), pre-tokenizer regexes, validation.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <thread>

#include "model/gguf.h"
#include "golden_lines.h"
#include "test_util.h"
#include "tiny_model.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace ringlm {
namespace {

using test::from_hex;
using test::parse_ids;
using test::raw_field;

struct Golden {
  std::string name, text;
  bool lossless = true;
  std::vector<int32_t> ids, ids_plain;
};

std::vector<Golden> load_goldens() {
  std::ifstream in(test::source_dir() + "/tests/data/tokenizer/smollm2_goldens.json");
  REQUIRE(in.good());
  std::vector<Golden> out;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    Golden g;
    g.name = raw_field(line, "name");
    g.text = from_hex(raw_field(line, "text_hex"));
    g.lossless = raw_field(line, "lossless") == "true";
    g.ids = parse_ids(raw_field(line, "ids"));
    g.ids_plain = parse_ids(raw_field(line, "ids_plain"));
    out.push_back(std::move(g));
  }
  REQUIRE(out.size() >= 40);
  return out;
}

const Tokenizer& smollm2() {
  static std::unique_ptr<Tokenizer> tok = [] {
    auto file = GgufFile::Open(test::model_path());
    REQUIRE(file.ok());
    auto data = tokenizer_data_from_gguf(**file);
    REQUIRE(data.ok());
    auto t = Tokenizer::Create(std::move(data).value());
    INFO(t.status().ToString());
    REQUIRE(t.ok());
    return std::move(t).value();
  }();
  return *tok;
}

std::vector<int32_t> enc(const Tokenizer& t, std::string_view text, bool add_special,
                         bool parse_special) {
  auto r = t.encode(text, add_special, parse_special);
  REQUIRE(r.ok());
  return r.value();
}

}  // namespace

TEST_CASE("SmolLM2 encodes every golden text like the reference", "[tokenizer]") {
  const Tokenizer& tok = smollm2();
  for (const Golden& g : load_goldens()) {
    INFO("case " << g.name);
    CHECK(enc(tok, g.text, false, true) == g.ids);
    CHECK(enc(tok, g.text, false, false) == g.ids_plain);
    CHECK(enc(tok, g.text, true, true) == g.ids);  // SmolLM2 adds no BOS
  }
}

TEST_CASE("SmolLM2 decode(encode(x)) == x", "[tokenizer]") {
  const Tokenizer& tok = smollm2();
  for (const Golden& g : load_goldens()) {
    if (!g.lossless) continue;  // holds a byte the vocabulary has no token for
    INFO("case " << g.name);
    CHECK(tok.decode(enc(tok, g.text, false, true)) == g.text);
    CHECK(tok.decode(enc(tok, g.text, false, false)) == g.text);
  }
}

TEST_CASE("SmolLM2 metadata and special tokens", "[tokenizer]") {
  const Tokenizer& tok = smollm2();
  CHECK(tok.vocab_size() == 49152);
  CHECK(tok.model() == "gpt2");
  CHECK(tok.bos() == 1);
  CHECK(tok.eos() == 2);
  CHECK_FALSE(tok.add_bos());
  CHECK(tok.find_token("<|im_start|>") == 1);
  CHECK(tok.find_token("<|im_end|>") == 2);
  CHECK(tok.find_token("no such token text") == std::nullopt);
  CHECK(tok.token_type(2) == TokenType::kControl);
  CHECK(tok.is_end_of_generation(2));  // <|im_end|>, the EOS
  CHECK(tok.is_end_of_generation(0));  // <|endoftext|>
  CHECK_FALSE(tok.is_end_of_generation(1));
  CHECK_FALSE(tok.is_end_of_generation(216));
  CHECK(tok.token_bytes(216) == " ");  // "Ġ"
  CHECK(tok.token_bytes(2) == "<|im_end|>");
  CHECK(tok.token_bytes(-1).empty());
  CHECK(tok.token_bytes(49152).empty());

  const std::string text = "<|im_start|>user\nHi<|im_end|>";
  const auto parsed = enc(tok, text, false, true);
  REQUIRE(parsed.size() >= 4);
  CHECK(parsed.front() == 1);
  CHECK(parsed.back() == 2);
  const auto plain = enc(tok, text, false, false);
  CHECK(std::find(plain.begin(), plain.end(), 1) == plain.end());
  CHECK(std::find(plain.begin(), plain.end(), 2) == plain.end());
  CHECK(tok.decode(parsed) == text);
  CHECK(tok.decode(plain) == text);
  CHECK(tok.decode(parsed, /*render_control=*/false) == "user\nHi");
}

TEST_CASE("SmolLM2 control tokens are not recognised in literal ranges", "[tokenizer]") {
  const Tokenizer& tok = smollm2();
  const std::string text = "<|im_start|>user\nHi<|im_end|>x<|im_end|>";
  const size_t content = text.find("Hi");
  const std::pair<size_t, size_t> literal[] = {{content, content + 13}};  // "Hi<|im_end|>x"
  const auto ids = tok.encode_prompt(text, false, literal).value();
  CHECK(std::count(ids.begin(), ids.end(), 1) == 1);
  CHECK(std::count(ids.begin(), ids.end(), 2) == 1);
  CHECK(ids.front() == 1);
  CHECK(ids.back() == 2);
  CHECK(tok.decode(ids) == text);
  // A range that only touches a control token's text still keeps it text.
  const std::pair<size_t, size_t> tail[] = {{text.size() - 1, text.size()}};
  const auto t2 = tok.encode_prompt(text, false, tail).value();
  CHECK(std::count(t2.begin(), t2.end(), 2) == 1);
  // No ranges: as parse_special.
  CHECK(tok.encode_prompt(text, false, {}).value() == enc(tok, text, false, true));
}

TEST_CASE("SmolLM2 invalid UTF-8 is encoded byte by byte where tokens exist", "[tokenizer]") {
  const Tokenizer& tok = smollm2();
  // A truncated 3-byte sequence, a lone continuation byte, a surrogate encoding.
  for (std::string s : {"ab\xE4\xB8", "\x80x", "\xED\xA0\x80", "x\xE4\xB8 y\xF0\x9F\x98"}) {
    INFO(s);
    CHECK(tok.decode(enc(tok, s, false, true)) == s);
  }
  // 0xFF and 0xC0 have no token in this vocabulary: dropped, as HF does.
  CHECK(tok.decode(enc(tok, "a\xFF\xC0z", false, true)) == "az");
}

TEST_CASE("SmolLM2 long inputs, the word cache and concurrent use agree", "[tokenizer]") {
  const Tokenizer& tok = smollm2();
  std::string text;
  for (const Golden& g : load_goldens()) text += g.text + "\n";
  std::string big;
  for (int i = 0; i < 20; ++i) big += text;
  const auto first = enc(tok, big, false, true);
  CHECK(tok.decode(first).size() > 0);
  CHECK(enc(tok, big, false, true) == first);  // now served from the cache
  std::vector<std::vector<int32_t>> results(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { results[i] = tok.encode(big, false, true).value(); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) CHECK(r == first);
  // A single 100k-byte word.
  const std::string word(100000, 'x');
  CHECK(tok.decode(enc(tok, word, false, true)) == word);
}

// Expected splits computed with HF tokenizers' Split(Regex(...), "isolated").
TEST_CASE("pre-tokenizer regexes split like the reference", "[tokenizer]") {
  using Pieces = std::vector<std::string>;
  auto split = [](std::string_view name, std::string_view text) {
    auto pre = PreTokenizer::Create(name);
    REQUIRE(pre.ok());
    std::vector<std::string_view> views;
    REQUIRE((*pre)->split(text, &views).ok());
    return Pieces(views.begin(), views.end());
  };
  CHECK(split("llama-bpe", "Hello world 1234567!") ==
        Pieces{"Hello", " world", " ", "123", "456", "7", "!"});
  CHECK(split("llama3", "I'M HERE,\n\n  x\t\ty  ") ==
        Pieces{"I", "'M", " HERE", ",\n\n", " ", " x", "\t", "\ty", "  "});
  CHECK(split("llama3", "$100.50 (approx.)\r\nok") ==
        Pieces{"$", "100", ".", "50", " (", "approx", ".)\r\n", "ok"});
  CHECK(split("llama3", "日本語テキスト123") == Pieces{"日本語テキスト", "123"});
  CHECK(split("qwen2", "Hello world 1234567!") ==
        Pieces{"Hello", " world", " ", "1", "2", "3", "4", "5", "6", "7", "!"});
  CHECK(split("qwen2", "$100.50 (approx.)\r\nok") ==
        Pieces{"$", "1", "0", "0", ".", "5", "0", " (", "approx", ".)\r\n", "ok"});
  CHECK(split("smollm", "a 12b  c") == Pieces{"a", " ", "1", "2", "b", " ", " c"});
  CHECK(split("gpt2", "a 12b  c") == Pieces{"a", " 12", "b", " ", " c"});
  CHECK(split("default", "").empty());

  auto bad = PreTokenizer::Create("no-such-pre");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kUnsupported);
  CHECK_THAT(bad.status().message(), Catch::Contains("no-such-pre") && Catch::Contains("smollm"));
}

namespace {

// A byte-level vocabulary: the 256 alphabet characters, then `extra`.
TokenizerData tiny_bpe(std::vector<std::string> extra, std::vector<std::string> merges) {
  TokenizerData d;
  d.model = "gpt2";
  d.pre = "gpt2";
  for (int b = 0; b < 256; ++b) {
    d.tokens.emplace_back(unicode::byte_to_unicode(static_cast<uint8_t>(b)));
  }
  for (auto& e : extra) d.tokens.push_back(std::move(e));
  d.merges = std::move(merges);
  return d;
}

}  // namespace

TEST_CASE("BPE applies the lowest-ranked merge first, leftmost on ties", "[tokenizer]") {
  // "aaa": the pair (a, a) occurs twice; the left one merges first -> "aa" "a".
  auto tok = Tokenizer::Create(tiny_bpe({"aa", "bc", "abc", "aab"}, {"a a", "b c", "a bc"}));
  REQUIRE(tok.ok());
  const Tokenizer& t = **tok;
  CHECK(enc(t, "aaa", false, false) == std::vector<int32_t>{256, 'a'});
  // (b, c) ranks above (a, bc): "abc" -> a + bc -> abc.
  CHECK(enc(t, "abc", false, false) == std::vector<int32_t>{258});
  // (a, a) beats (b, c); then no merge (aa, bc) exists.
  CHECK(enc(t, "aabc", false, false) == std::vector<int32_t>{256, 257});
  CHECK(t.decode(enc(t, "aabc", false, false)) == "aabc");
}

TEST_CASE("Tokenizer::Create rejects bad data", "[tokenizer]") {
  auto code_of = [](TokenizerData d) { return Tokenizer::Create(std::move(d)).status().code(); };
  {
    TokenizerData d = tiny_bpe({}, {});
    d.model = "wordpiece";
    auto r = Tokenizer::Create(d);
    CHECK(r.status().code() == StatusCode::kUnsupported);
    CHECK_THAT(r.status().message(), Catch::Contains("wordpiece"));
  }
  {
    TokenizerData d = tiny_bpe({}, {});
    d.pre = "mystery";
    auto r = Tokenizer::Create(d);
    CHECK(r.status().code() == StatusCode::kUnsupported);
    CHECK_THAT(r.status().message(), Catch::Contains("mystery"));
  }
  CHECK(code_of(tiny_bpe({}, {"ab"})) == StatusCode::kCorruptData);   // no separator
  CHECK(code_of(tiny_bpe({}, {"a "})) == StatusCode::kCorruptData);   // empty right
  CHECK(code_of(tiny_bpe({}, {"a b"})) == StatusCode::kCorruptData);  // "ab" not a token
  CHECK(code_of(tiny_bpe({"ab"}, {"a b"})) == StatusCode::kOk);
  {
    TokenizerData d = tiny_bpe({}, {});
    d.bos_id = 256;
    CHECK(code_of(d) == StatusCode::kCorruptData);
    d.bos_id = -1;
    d.add_bos = true;
    CHECK(code_of(d) == StatusCode::kCorruptData);
  }
  {
    TokenizerData d = tiny_bpe({}, {});
    d.token_types.assign(10, 1);
    CHECK(code_of(d) == StatusCode::kCorruptData);
    d.token_types.assign(256, 1);
    d.token_types[3] = 9;
    CHECK(code_of(d) == StatusCode::kCorruptData);
  }
  {
    TokenizerData d = tiny_bpe({}, {});
    d.tokens.clear();
    CHECK(code_of(d) == StatusCode::kCorruptData);
  }
  {
    TokenizerData d = tiny_bpe({}, {});
    d.scores.assign(256, 0.f);
    d.scores[7] = std::nanf("");  // would break the strict order SPM merges need
    CHECK(code_of(d) == StatusCode::kCorruptData);
    d.scores[7] = -std::numeric_limits<float>::infinity();  // an order still
    CHECK(code_of(d) == StatusCode::kOk);
  }
}

TEST_CASE("per-token GGUF arrays of the wrong length are refused before they are read",
          "[tokenizer]") {
  const std::string dir = test::temp_dir("tokenizer_scores");
  for (int n : {10, 100000}) {
    test::TinyModelSpec spec;
    spec.scores = n;  // the vocabulary has 300 tokens
    const std::string path = dir + "/m" + std::to_string(n) + ".gguf";
    test::write_tiny_model(path, spec);
    auto file = GgufFile::Open(path);
    REQUIRE(file.ok());
    auto d = tokenizer_data_from_gguf(*file.value());
    CHECK(d.status().code() == StatusCode::kCorruptData);
    CHECK_THAT(d.status().message(), Catch::Contains("tokenizer.ggml.scores"));
  }
}

TEST_CASE("add_special adds BOS/EOS; user-defined tokens are always matched", "[tokenizer]") {
  TokenizerData d = tiny_bpe({"<s>", "</s>", "<tool>"}, {});
  d.token_types.assign(d.tokens.size(), 1);
  d.token_types[256] = d.token_types[257] = static_cast<int32_t>(TokenType::kControl);
  d.token_types[258] = static_cast<int32_t>(TokenType::kUserDefined);
  d.bos_id = 256;
  d.eos_id = 257;
  d.add_bos = d.add_eos = true;
  auto tok = Tokenizer::Create(d);
  REQUIRE(tok.ok());
  const Tokenizer& t = **tok;
  CHECK(enc(t, "x", true, false) == std::vector<int32_t>{256, 'x', 257});
  CHECK(enc(t, "", true, false) == std::vector<int32_t>{256, 257});
  CHECK(enc(t, "", false, false).empty());
  CHECK(enc(t, "<tool>", false, false) == std::vector<int32_t>{258});
  CHECK(enc(t, "<s>", false, true) == std::vector<int32_t>{256});
  CHECK(enc(t, "<s>", false, false).size() == 3);
  CHECK(t.is_end_of_generation(257));
}

TEST_CASE("special tokens: longest match first, however many share a first byte",
          "[tokenizer]") {
  // 20,000 user-defined tokens "q00000" .. "q19999", plus "q1" and a control
  // "q123" (matched only when special tokens are parsed) and a duplicate
  // text "q7" twice (the first id wins).
  std::vector<std::string> extra;
  char buf[16];
  for (int k = 0; k < 20000; ++k) {
    std::snprintf(buf, sizeof buf, "q%05d", k);
    extra.push_back(buf);
  }
  for (const char* e : {"q1", "q123", "q7", "q7"}) extra.push_back(e);
  TokenizerData d = tiny_bpe(extra, {});
  d.token_types.assign(d.tokens.size(), int32_t(TokenType::kUserDefined));
  for (int b = 0; b < 256; ++b) d.token_types[size_t(b)] = int32_t(TokenType::kNormal);
  const int32_t q1 = 256 + 20000, q123 = q1 + 1, q7 = q1 + 2;
  d.token_types[size_t(q123)] = int32_t(TokenType::kControl);
  auto tok = Tokenizer::Create(d);
  REQUIRE(tok.ok());
  const Tokenizer& t = **tok;
  CHECK(enc(t, "q00042", false, false) == std::vector<int32_t>{256 + 42});
  // Longest first: "q12345" over "q123" over "q1".
  CHECK(enc(t, "q12345", false, true) == std::vector<int32_t>{256 + 12345});
  CHECK(enc(t, "q1234", false, true) == std::vector<int32_t>{q123, '4'});
  CHECK(enc(t, "q1234", false, false) == std::vector<int32_t>{q1, '2', '3', '4'});
  CHECK(enc(t, "q7q7", false, false) == std::vector<int32_t>{q7, q7});
  // A long text of the shared first byte finds nothing, and ends.
  const std::string qs(200000, 'q');
  CHECK(enc(t, qs, false, true).size() == qs.size());
  CHECK(enc(t, qs + "q19999", false, true).back() == 256 + 19999);
}

}  // namespace ringlm
