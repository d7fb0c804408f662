// SentencePiece-style BPE against goldens from `sentencepiece` itself, on the
// tiny byte-fallback model in tests/data/tokenizer/spm_tiny.gguf
// (regenerate with tests/tools/make_tokenizer_goldens.py).
#include <catch2/catch.hpp>
#include <fstream>

#include "model/gguf.h"
#include "golden_lines.h"
#include "test_util.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace ringlm {
namespace {

using test::from_hex;
using test::parse_ids;
using test::raw_field;

struct Golden {
  std::string name, text;
  std::vector<int32_t> ids;
};

std::vector<Golden> load_goldens() {
  std::ifstream in(test::source_dir() + "/tests/data/tokenizer/spm_goldens.json");
  REQUIRE(in.good());
  std::vector<Golden> out;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    out.push_back({raw_field(line, "name"), from_hex(raw_field(line, "text_hex")),
                   parse_ids(raw_field(line, "ids"))});
  }
  REQUIRE(out.size() >= 40);
  return out;
}

std::string spm_path() { return test::source_dir() + "/tests/data/tokenizer/spm_tiny.gguf"; }

const Tokenizer& spm() {
  static std::unique_ptr<Tokenizer> tok = [] {
    auto file = GgufFile::Open(spm_path());
    INFO(file.status().ToString());
    REQUIRE(file.ok());
    auto data = tokenizer_data_from_gguf(**file);
    INFO(data.status().ToString());
    REQUIRE(data.ok());
    auto t = Tokenizer::Create(std::move(data).value());
    INFO(t.status().ToString());
    REQUIRE(t.ok());
    return std::move(t).value();
  }();
  return *tok;
}

std::vector<int32_t> enc(std::string_view text, bool add_special, bool parse_special) {
  auto r = spm().encode(text, add_special, parse_special);
  REQUIRE(r.ok());
  return r.value();
}

}  // namespace

TEST_CASE("SPM encodes every golden text like sentencepiece", "[tokenizer]") {
  for (const Golden& g : load_goldens()) {
    INFO("case " << g.name);
    CHECK(enc(g.text, false, false) == g.ids);
    std::vector<int32_t> with_bos{spm().bos()};
    with_bos.insert(with_bos.end(), g.ids.begin(), g.ids.end());
    CHECK(enc(g.text, true, false) == with_bos);
  }
}

TEST_CASE("SPM decode(encode(x)) == x", "[tokenizer]") {
  for (const Golden& g : load_goldens()) {
    INFO("case " << g.name);
    CHECK(spm().decode(enc(g.text, false, false)) == g.text);
    CHECK(spm().decode(enc(g.text, true, false), /*render_control=*/false) == g.text);
    CHECK(spm().decode(enc(g.text, true, false)) == "<s>" + g.text);
  }
}

TEST_CASE("SPM metadata, byte fallback and special tokens", "[tokenizer]") {
  const Tokenizer& t = spm();
  CHECK(t.model() == "llama");
  CHECK(t.bos() == 1);
  CHECK(t.eos() == 2);
  CHECK(t.unk() == 0);
  CHECK(t.add_bos());
  CHECK(t.token_type(1) == TokenType::kControl);
  CHECK(t.is_end_of_generation(2));
  // Byte tokens decode to their byte; "▁" pieces to spaces.
  const auto lf = t.find_token("<0x0A>");
  REQUIRE(lf.has_value());
  CHECK(t.token_type(*lf) == TokenType::kByte);
  CHECK(t.token_bytes(*lf) == "\n");
  const auto the = t.find_token("\xE2\x96\x81the");
  REQUIRE(the.has_value());
  CHECK(t.token_bytes(*the) == " the");
  // Control texts are plain text unless parse_special; the space prefix
  // follows a special token as in llama.cpp and HF's Llama tokenizers.
  const auto hello = enc("hello", false, false);
  std::vector<int32_t> expect{1};
  expect.insert(expect.end(), hello.begin(), hello.end());
  CHECK(enc("<s>hello", false, true) == expect);
  CHECK(enc("<s>hello", false, false) != expect);
  CHECK(t.decode(enc("<s>hello", false, true)) == "<s>hello");
  CHECK(t.decode(enc("a</s>b", false, true)) == "a</s>b");
  CHECK(enc("", true, false) == std::vector<int32_t>{1});
  CHECK(enc("", false, false).empty());
  // Invalid UTF-8 goes through byte fallback and survives the round trip.
  for (std::string s : {"x\xFF", "\xE4\xB8", "\x80\x80 ok"})
    CHECK(t.decode(enc(s, false, false)) == s);
}

TEST_CASE("SPM without byte tokens falls back to <unk>", "[tokenizer]") {
  TokenizerData d;
  d.model = "llama";
  d.tokens = {"<unk>",
              "<s>",
              "</s>",
              "\xE2\x96\x81",
              "a",
              "b",
              "\xE2\x96\x81"
              "a",
              "ab"};
  d.token_types = {2, 3, 3, 1, 1, 1, 1, 1};
  d.scores = {0, 0, 0, -1, -2, -3, -0.5f, -0.25f};
  d.unk_id = 0;
  d.bos_id = 1;
  d.eos_id = 2;
  d.add_space_prefix = true;
  auto tok = Tokenizer::Create(d);
  REQUIRE(tok.ok());
  auto ids = (*tok)->encode("ab z", false, false);
  REQUIRE(ids.ok());
  // "▁ab▁z": (a,b) scores -0.25, above (▁,a) at -0.5, so "ab" forms first and
  // "▁a" never does; "▁ab" is no piece; "z" has no piece and no byte token.
  CHECK(*ids == std::vector<int32_t>{3, 7, 3, 0});
  d.token_types[4] = 6;  // a byte token with a bad name
  CHECK(Tokenizer::Create(d).status().code() == StatusCode::kCorruptData);
}

TEST_CASE("SPM model file carries a Llama 2 chat template", "[tokenizer]") {
  auto file = GgufFile::Open(spm_path());
  REQUIRE(file.ok());
  auto tmpl = ChatTemplate::FromGguf(**file, "");
  INFO(tmpl.status().ToString());
  REQUIRE(tmpl.ok());
  CHECK(tmpl->family() == ChatTemplateFamily::kLlama2);
  const ChatMessage msgs[] = {{"user", "hi"}};
  const std::string prompt = tmpl->render(msgs, true);
  CHECK(prompt == "<s>[INST] hi [/INST]");
  auto ids = spm().encode(prompt, false, true);
  REQUIRE(ids.ok());
  CHECK(ids->front() == spm().bos());
  CHECK(spm().decode(*ids) == prompt);
}

}  // namespace ringlm
