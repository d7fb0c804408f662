// StreamDecoder: never emits broken UTF-8, whatever the token boundaries, and
// its concatenated output equals decode().
#include <catch2/catch.hpp>
#include <fstream>
#include <random>

#include "model/gguf.h"
#include "test_util.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace ringlm {
namespace {

std::unique_ptr<Tokenizer> load(const std::string& path) {
  auto file = GgufFile::Open(path);
  INFO(path << ": " << file.status().ToString());
  REQUIRE(file.ok());
  auto data = tokenizer_data_from_gguf(**file);
  REQUIRE(data.ok());
  auto t = Tokenizer::Create(std::move(data).value());
  REQUIRE(t.ok());
  return std::move(t).value();
}

const Tokenizer& smollm2() {
  static std::unique_ptr<Tokenizer> t = load(test::model_path());
  return *t;
}

const Tokenizer& spm() {
  static std::unique_ptr<Tokenizer> t =
      load(test::source_dir() + "/tests/data/tokenizer/spm_tiny.gguf");
  return *t;
}

// One token per byte of `text`: the worst case, every character split.
std::vector<int32_t> byte_tokens(const Tokenizer& t, std::string_view text) {
  std::vector<int32_t> ids;
  for (char c : text) {
    std::optional<int32_t> id;
    if (t.model() == "gpt2") {
      id = t.find_token(unicode::byte_to_unicode(static_cast<uint8_t>(c)));
    } else {
      char name[8];
      snprintf(name, sizeof(name), "<0x%02X>", static_cast<uint8_t>(c));
      id = t.find_token(name);
    }
    REQUIRE(id.has_value());
    ids.push_back(*id);
  }
  return ids;
}

// Streams `ids`; every piece must be valid UTF-8 and the whole must equal
// the sanitized decode().
std::string stream_all(const Tokenizer& t, const std::vector<int32_t>& ids) {
  StreamDecoder dec(&t);
  std::string all;
  for (int32_t id : ids) {
    const std::string piece = dec.push(id);
    CHECK(unicode::utf8_is_valid(piece));
    CHECK(dec.pending_bytes() <= 3);
    all += piece;
  }
  const std::string tail = dec.flush();
  CHECK(unicode::utf8_is_valid(tail));
  all += tail;
  CHECK(all == unicode::utf8_sanitize(t.decode(ids)));
  return all;
}

const char* const kTexts[] = {
    "plain ascii",
    "Grüße, Köln — naïve café",
    "你好，世界！今天天气很好。",
    "こんにちは世界。カタカナ",
    "Привет, мир!",
    "मनमोहन नमस्ते",
    "emoji 🍕😀 family 👨‍👩‍👧‍👦 flags 🇺🇸🇯🇵 skin 👍🏽 keycap "
    "1️⃣",
    "math ∀x∈ℝ √ ∞ 𝔘𝔫𝔦 \U0010FFFD",
};

}  // namespace

TEST_CASE("StreamDecoder: natural and byte-by-byte token boundaries", "[tokenizer]") {
  for (const Tokenizer* t : {&smollm2(), &spm()}) {
    for (const char* text : kTexts) {
      INFO(t->model() << ": " << text);
      auto natural = t->encode(text, false, false);
      REQUIRE(natural.ok());
      CHECK(stream_all(*t, *natural) == text);
      // The leading space the SPM encoder prefixes is not part of the text.
      std::string spaced = t->model() == "llama" ? std::string(" ") + text : std::string(text);
      CHECK(stream_all(*t, byte_tokens(*t, spaced)) == spaced);
    }
  }
}

TEST_CASE("StreamDecoder: every split point of multi-byte characters", "[tokenizer]") {
  // Prefix tokens (encoded normally) then suffix bytes one token each, for
  // every byte offset: each character is split at each of its inner bytes.
  const Tokenizer& t = smollm2();
  for (const char* text : kTexts) {
    const std::string s = text;
    for (size_t k = 0; k <= s.size(); ++k) {
      INFO(text << " split at " << k);
      std::vector<int32_t> ids = byte_tokens(t, s.substr(0, k));
      auto rest = t.encode(s.substr(k), false, false);
      REQUIRE(rest.ok());
      ids.insert(ids.end(), rest->begin(), rest->end());
      CHECK(stream_all(t, ids) == s);
    }
  }
}

TEST_CASE("StreamDecoder: random token chunks", "[tokenizer]") {
  const Tokenizer& t = smollm2();
  std::mt19937 rng(7);
  std::string all;
  for (const char* text : kTexts) all += text;
  for (int trial = 0; trial < 200; ++trial) {
    // Cut the bytes at random points and use each chunk's token when the
    // vocabulary has it (partial characters included), bytes otherwise.
    std::vector<int32_t> ids;
    for (size_t pos = 0; pos < all.size();) {
      const size_t len = std::min<size_t>(1 + rng() % 6, all.size() - pos);
      std::string encoded;
      for (char c : all.substr(pos, len))
        encoded += unicode::byte_to_unicode(static_cast<uint8_t>(c));
      if (auto id = t.find_token(encoded)) {
        ids.push_back(*id);
      } else {
        auto bytes = byte_tokens(t, all.substr(pos, len));
        ids.insert(ids.end(), bytes.begin(), bytes.end());
      }
      pos += len;
    }
    CHECK(stream_all(t, ids) == all);
  }
}

TEST_CASE("StreamDecoder: invalid and unfinished sequences", "[tokenizer]") {
  const Tokenizer& t = smollm2();
  const std::string kFffd = "\xEF\xBF\xBD";
  auto ids = [&](std::string_view s) { return byte_tokens(t, s); };
  {
    StreamDecoder dec(&t);
    auto e4 = ids("\xE4\xB8");
    CHECK(dec.push(e4[0]).empty());
    CHECK(dec.push(e4[1]).empty());
    CHECK(dec.pending_bytes() == 2);
    CHECK(dec.push(ids("A")[0]) == kFffd + "A");  // E4 B8 can no longer complete
  }
  {
    StreamDecoder dec(&t);
    auto v = ids("\xF0\x9F\x98\x80");
    for (int i = 0; i < 3; ++i) CHECK(dec.push(v[i]).empty());
    CHECK(dec.push(v[3]) == "\xF0\x9F\x98\x80");
  }
  {
    StreamDecoder dec(&t);
    CHECK(dec.push(ids("\x80")[0]) == kFffd);  // a lone continuation byte
    auto surrogate = ids("\xED\xA0\x80");      // ED may start a sequence; ED A0 never does
    CHECK(dec.push(surrogate[0]).empty());
    CHECK(dec.push(surrogate[1]) == kFffd + kFffd);
    CHECK(dec.push(surrogate[2]) == kFffd);
    CHECK(dec.push(ids("\xE4")[0]).empty());
    CHECK(dec.flush() == kFffd);  // unfinished at the end
    CHECK(dec.pending_bytes() == 0);
  }
  CHECK(unicode::utf8_sanitize("a\xE4\xB8"
                               "b\xED\xA0\x80\xF0\x9F") ==
        "a" + kFffd + "b" + kFffd + kFffd + kFffd + kFffd);
}

TEST_CASE("StreamDecoder: SPM drops the prefixed space, control tokens optional", "[tokenizer]") {
  const Tokenizer& t = spm();
  auto ids = t.encode("the model", true, false);
  REQUIRE(ids.ok());
  StreamDecoder with(&t), without(&t, /*render_control=*/false);
  std::string a, b;
  for (int32_t id : *ids) {
    a += with.push(id);
    b += without.push(id);
  }
  CHECK(a + with.flush() == "<s>the model");
  CHECK(b + without.flush() == "the model");
  without.reset();
  CHECK(without.push(ids->at(1)) == "the");
}

}  // namespace ringlm
