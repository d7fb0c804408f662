// Damaged GGUF files: each must give a specific StatusCode and a message that
// names the problem, never a crash or an out-of-bounds read (this test also
// runs under AddressSanitizer: every file is parsed from an exact-size heap
// buffer, so a read past its end is caught).
#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "model/gguf_format.h"
#include "model/gguf_writer.h"
#include "test_util.h"

namespace {

using namespace ringlm;
using Bytes = std::vector<uint8_t>;

Bytes base_file() {
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_u32("general.alignment", 32);
  w.add_u32("test.k1", 7);
  w.add_u32("test.k2", 8);
  w.add_bool("test.flag", true);
  w.add_i32_array("test.arr", {1, 2, 3});
  w.add_string_array("test.strs", {"a", "bc"});
  REQUIRE(w.add_tensor_f32("wa", DType::kF32, {8, 2}, test::random_floats(16, 1)).ok());
  REQUIRE(w.add_tensor_f32("wb", DType::kQ8_0, {32, 2}, test::random_floats(64, 2)).ok());
  auto b = w.to_bytes();
  REQUIRE(b.ok());
  return std::move(b).value();
}

// Offset of the length field of the GGUF string `s` (first occurrence).
size_t string_pos(const Bytes& b, const std::string& s) {
  std::string needle(8, '\0');
  const uint64_t n = s.size();
  std::memcpy(needle.data(), &n, 8);
  needle += s;
  const std::string hay(b.begin(), b.end());
  const size_t p = hay.find(needle);
  REQUIRE(p != std::string::npos);
  return p;
}

// Field offsets inside the base file.
size_t key_type_pos(const Bytes& b, const std::string& key) {
  return string_pos(b, key) + 8 + key.size();
}
size_t key_value_pos(const Bytes& b, const std::string& key) { return key_type_pos(b, key) + 4; }
size_t tensor_ndims_pos(const Bytes& b, const std::string& name) {
  return string_pos(b, name) + 8 + name.size();
}
size_t tensor_ne_pos(const Bytes& b, const std::string& name, int d) {
  return tensor_ndims_pos(b, name) + 4 + 8 * d;
}
size_t tensor_type_pos(const Bytes& b, const std::string& name) {
  uint32_t n_dims;
  std::memcpy(&n_dims, &b[tensor_ndims_pos(b, name)], 4);
  return tensor_ne_pos(b, name, static_cast<int>(n_dims));
}
size_t tensor_offset_pos(const Bytes& b, const std::string& name) {
  return tensor_type_pos(b, name) + 4;
}

template <typename T>
void poke(Bytes& b, size_t at, T v) {
  std::memcpy(&b[at], &v, sizeof(T));
}

template <typename T>
T peek(const Bytes& b, size_t at) {
  T v;
  std::memcpy(&v, &b[at], sizeof(T));
  return v;
}

Status parse(const Bytes& b) {
  // An exact-size copy: one byte past its end is outside the allocation.
  auto f = GgufFile::FromBytes(Bytes(b.begin(), b.end()));
  if (f.ok()) {
    for (const auto& t : f.value()->tensors()) {
      auto r = f.value()->read_tensor_f32(t);
      if (!r.ok()) return r.status();
    }
  }
  return f.status();
}

struct Case {
  std::string name;
  std::function<void(Bytes&)> mutate;
  StatusCode code;
  std::string substr;
};

constexpr auto kCorrupt = StatusCode::kCorruptData;
constexpr auto kUnsupported = StatusCode::kUnsupported;

const std::vector<Case>& cases() {
  static const std::vector<Case> kCases = {
      {"bad magic", [](Bytes& b) { b[0] = 'X'; }, kCorrupt, "bad magic 'XGUF'"},
      {"version 0", [](Bytes& b) { poke<uint32_t>(b, 4, 0); }, kCorrupt, "bad GGUF version 0"},
      {"version 1", [](Bytes& b) { poke<uint32_t>(b, 4, 1); }, kUnsupported, "version 1"},
      {"version 4", [](Bytes& b) { poke<uint32_t>(b, 4, 4); }, kUnsupported, "version 4"},
      {"big endian", [](Bytes& b) { poke<uint32_t>(b, 4, 0x03000000); }, kUnsupported,
       "big-endian"},
      {"huge version", [](Bytes& b) { poke<uint32_t>(b, 4, 0xDEADBEEF); }, kCorrupt,
       "bad GGUF version"},
      {"absurd tensor count", [](Bytes& b) { poke<uint64_t>(b, 8, uint64_t{1} << 40); }, kCorrupt,
       "tensor count 1099511627776"},
      {"tensor count too big for the file", [](Bytes& b) { poke<uint64_t>(b, 8, 1000); }, kCorrupt,
       "tensor count 1000"},
      {"absurd kv count", [](Bytes& b) { poke<uint64_t>(b, 16, ~uint64_t{0}); }, kCorrupt,
       "kv count 18446744073709551615"},
      {"kv count too big for the file", [](Bytes& b) { poke<uint64_t>(b, 16, 1000); }, kCorrupt,
       "kv count 1000"},
      {"absurd key length",
       [](Bytes& b) { poke<uint64_t>(b, string_pos(b, "general.architecture"), 1ull << 62); },
       kCorrupt, "string length 4611686018427387904 of key #0"},
      {"key longer than 65535",
       [](Bytes& b) { poke<uint64_t>(b, string_pos(b, "test.k1"), 70000); }, kCorrupt,
       "exceeds the limit of 65535"},
      {"absurd string value length",
       [](Bytes& b) { poke<uint64_t>(b, key_value_pos(b, "general.architecture"), ~0ull); },
       kCorrupt, "string length 18446744073709551615 of value of key 'general.architecture'"},
      {"string value past the end",
       [](Bytes& b) { poke<uint64_t>(b, key_value_pos(b, "general.architecture"), b.size()); },
       kCorrupt, "truncated"},
      {"absurd array length",
       [](Bytes& b) { poke<uint64_t>(b, key_value_pos(b, "test.arr") + 4, 1ull << 61); }, kCorrupt,
       "array length 2305843009213693952 of key 'test.arr'"},
      {"array length too big for the file",
       [](Bytes& b) { poke<uint64_t>(b, key_value_pos(b, "test.arr") + 4, 5000); }, kCorrupt,
       "array length 5000"},
      {"absurd string array length",
       [](Bytes& b) { poke<uint64_t>(b, key_value_pos(b, "test.strs") + 4, 1ull << 60); }, kCorrupt,
       "array length 1152921504606846976 of key 'test.strs'"},
      {"unknown value type", [](Bytes& b) { poke<uint32_t>(b, key_type_pos(b, "test.k1"), 13); },
       kCorrupt, "key 'test.k1' has unknown value type 13"},
      {"unknown value type 2^32-1",
       [](Bytes& b) { poke<uint32_t>(b, key_type_pos(b, "test.k1"), ~0u); }, kCorrupt,
       "unknown value type 4294967295"},
      {"unknown array element type",
       [](Bytes& b) { poke<uint32_t>(b, key_value_pos(b, "test.arr"), 200); }, kCorrupt,
       "key 'test.arr': array has unknown value type 200"},
      {"bool neither 0 nor 1", [](Bytes& b) { b[key_value_pos(b, "test.flag")] = 2; }, kCorrupt,
       "key 'test.flag': bool value 2"},
      {"duplicate key", [](Bytes& b) { b[string_pos(b, "test.k2") + 8 + 6] = '1'; }, kCorrupt,
       "duplicate key 'test.k1'"},
      {"alignment 0", [](Bytes& b) { poke<uint32_t>(b, key_value_pos(b, "general.alignment"), 0); },
       kCorrupt, "general.alignment 0 is not a power of two"},
      {"alignment 3", [](Bytes& b) { poke<uint32_t>(b, key_value_pos(b, "general.alignment"), 3); },
       kCorrupt, "general.alignment 3 is not a power of two"},
      {"alignment of type i32",
       [](Bytes& b) { poke<uint32_t>(b, key_type_pos(b, "general.alignment"), 5); }, kCorrupt,
       "general.alignment has type i32"},
      {"unknown ggml type", [](Bytes& b) { poke<uint32_t>(b, tensor_type_pos(b, "wa"), 99); },
       kCorrupt, "tensor 'wa' has unknown ggml type 99"},
      {"retired ggml type 4", [](Bytes& b) { poke<uint32_t>(b, tensor_type_pos(b, "wb"), 4); },
       kCorrupt, "tensor 'wb' has unknown ggml type 4"},
      {"unsupported IQ2_XXS", [](Bytes& b) { poke<uint32_t>(b, tensor_type_pos(b, "wa"), 16); },
       kUnsupported, "tensor 'wa' has unsupported type IQ2_XXS"},
      {"Q5_K row of 32, not whole super-blocks",
       [](Bytes& b) { poke<uint32_t>(b, tensor_type_pos(b, "wb"), 13); }, kCorrupt,
       "not a multiple of the block size 256"},
      {"unsupported I64", [](Bytes& b) { poke<uint32_t>(b, tensor_type_pos(b, "wb"), 27); },
       kUnsupported, "unsupported type I64"},
      {"n_dims 5", [](Bytes& b) { poke<uint32_t>(b, tensor_ndims_pos(b, "wa"), 5); }, kCorrupt,
       "tensor 'wa' has 5 dimensions (max 4)"},
      {"n_dims 2^32-1", [](Bytes& b) { poke<uint32_t>(b, tensor_ndims_pos(b, "wb"), ~0u); },
       kCorrupt, "tensor 'wb' has 4294967295 dimensions"},
      {"element count overflows",
       [](Bytes& b) {
         poke<int64_t>(b, tensor_ne_pos(b, "wa", 0), int64_t{1} << 40);
         poke<int64_t>(b, tensor_ne_pos(b, "wa", 1), int64_t{1} << 40);
       },
       kCorrupt, "tensor 'wa' dimensions overflow"},
      {"byte size overflows",
       [](Bytes& b) {
         poke<int64_t>(b, tensor_ne_pos(b, "wa", 0), int64_t{1} << 62);
         poke<int64_t>(b, tensor_ne_pos(b, "wa", 1), 1);
       },
       kCorrupt, "tensor 'wa' dimensions overflow"},
      {"negative dimension", [](Bytes& b) { poke<int64_t>(b, tensor_ne_pos(b, "wb", 1), -2); },
       kCorrupt, "tensor 'wb' has negative dimension ne[1] = -2"},
      {"row not a multiple of the block",
       [](Bytes& b) { poke<int64_t>(b, tensor_ne_pos(b, "wb", 0), 31); }, kCorrupt,
       "not a multiple of the block size 32"},
      {"dims larger than the file",
       [](Bytes& b) { poke<int64_t>(b, tensor_ne_pos(b, "wa", 1), 1 << 20); }, kCorrupt,
       "tensor 'wa' data (offset 0, 33554432 bytes) lies beyond the end of the file"},
      {"offset beyond the file",
       [](Bytes& b) { poke<uint64_t>(b, tensor_offset_pos(b, "wb"), uint64_t{1} << 40); }, kCorrupt,
       "tensor 'wb' data (offset 1099511627776"},
      {"offset near 2^64",
       [](Bytes& b) { poke<uint64_t>(b, tensor_offset_pos(b, "wb"), ~uint64_t{31}); }, kCorrupt,
       "beyond the end of the file"},
      {"misaligned offset",
       [](Bytes& b) {
         const size_t p = tensor_offset_pos(b, "wb");
         poke<uint64_t>(b, p, peek<uint64_t>(b, p) + 4);
       },
       kCorrupt, "tensor 'wb' data offset 68 is misaligned (alignment 32)"},
      {"overlapping tensor data",
       [](Bytes& b) { poke<uint64_t>(b, tensor_offset_pos(b, "wb"), 32); }, kCorrupt,
       "tensor 'wb' data (offset 32) overlaps tensor 'wa' (offset 0, 64 bytes)"},
      {"duplicate tensor name", [](Bytes& b) { b[string_pos(b, "wb") + 9] = 'a'; }, kCorrupt,
       "duplicate tensor name 'wa'"},
      {"empty file", [](Bytes& b) { b.clear(); }, kCorrupt, "truncated file: reading magic"},
  };
  return kCases;
}

}  // namespace

TEST_CASE("the base file is valid", "[gguf]") {
  const Bytes b = base_file();
  REQUIRE(parse(b).ok());
  auto f = GgufFile::FromBytes(Bytes(b));
  REQUIRE(f.ok());
  CHECK(f.value()->find_tensor("wb")->offset == 64);
}

TEST_CASE("damaged files give a specific status", "[gguf]") {
  const auto& all = cases();
  const size_t i = GENERATE_COPY(range(size_t{0}, all.size()));
  const Case& c = all[i];
  Bytes b = base_file();
  c.mutate(b);
  const Status st = parse(b);
  INFO(c.name << " -> " << st.ToString());
  CHECK(st.code() == c.code);
  CHECK_THAT(st.message(), Catch::Contains(c.substr));
}

TEST_CASE("arrays nested too deeply are rejected", "[gguf]") {
  GgufValue v = GgufValue::Array(GgufValueType::kI32, {});
  for (int i = 0; i < 12; ++i) v = GgufValue::Array(GgufValueType::kArray, {v});
  GgufWriter w;
  w.add("deep", v);
  const Status st = parse(w.to_bytes().value());
  INFO(st.ToString());
  CHECK(st.code() == StatusCode::kCorruptData);
  CHECK_THAT(st.message(), Catch::Contains("key 'deep': arrays nested deeper than 8 levels"));
}

TEST_CASE("string arrays past the item cap are rejected", "[gguf]") {
  // Each item costs a value object for 8 encoded bytes: a cap keeps a small
  // hostile file from costing many times its size in memory.
  GgufWriter w;
  w.add_string_array("many", std::vector<std::string>(kGgufMaxArrayItems / 2));
  w.add_string_array("more", std::vector<std::string>(kGgufMaxArrayItems / 2 + 1));
  const Status st = parse(w.to_bytes().value());
  INFO(st.ToString());
  CHECK(st.code() == StatusCode::kCorruptData);
  CHECK_THAT(st.message(), Catch::Contains("key more"));
}

TEST_CASE("a file truncated anywhere is rejected", "[gguf]") {
  const Bytes base = base_file();
  auto f = GgufFile::FromBytes(Bytes(base));
  REQUIRE(f.ok());
  const GgufTensorInfo& wb = *f.value()->find_tensor("wb");
  const size_t infos_end = tensor_offset_pos(base, "wb") + 8;
  const size_t data_end = f.value()->data_offset() + wb.offset + wb.bytes;
  // Every byte of the header, metadata and tensor infos, then every byte of
  // the padding and tensor data (the padding after the last tensor is optional).
  const size_t cut = GENERATE_COPY(range(size_t{0}, data_end));
  const Status st = parse(Bytes(base.begin(), base.begin() + cut));
  INFO("cut at " << cut << " of " << base.size() << " -> " << st.ToString());
  CHECK(st.code() == StatusCode::kCorruptData);
  CHECK_THAT(st.message(), Catch::Contains(cut < infos_end ? "truncated" : "beyond the end"));
}

TEST_CASE("Open reports damage with the path", "[gguf]") {
  const std::string dir = test::temp_dir("gguf_corrupt_open");
  const Bytes base = base_file();
  const std::string path = dir + "/cut.gguf";
  {
    std::FILE* fp = std::fopen(path.c_str(), "wb");
    REQUIRE(fp);
    std::fwrite(base.data(), 1, base.size() / 2, fp);
    std::fclose(fp);
  }
  auto f = GgufFile::Open(path);
  CHECK(f.status().code() == StatusCode::kCorruptData);
  CHECK_THAT(f.status().message(), Catch::Contains("cut.gguf"));
  std::fclose(std::fopen((dir + "/empty.gguf").c_str(), "wb"));
  auto e = GgufFile::Open(dir + "/empty.gguf");
  CHECK(e.status().code() == StatusCode::kCorruptData);
  CHECK_THAT(e.status().message(), Catch::Contains("truncated"));
}

TEST_CASE("random byte damage never crashes", "[gguf]") {
  const Bytes base = base_file();
  const size_t infos_end = tensor_offset_pos(base, "wb") + 8;
  std::mt19937 rng(1234);
  int rejected = 0;
  for (int iter = 0; iter < 5000; ++iter) {
    Bytes b = base;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      const size_t at = rng() % infos_end;
      b[at] = static_cast<uint8_t>(rng() % 3 == 0 ? 0xFF : rng());
    }
    if (rng() % 4 == 0) b.resize(rng() % b.size());
    const Status st = parse(b);
    if (!st.ok()) {
      ++rejected;
      REQUIRE((st.code() == StatusCode::kCorruptData || st.code() == StatusCode::kUnsupported));
      REQUIRE_FALSE(st.message().empty());
    }
  }
  CHECK(rejected > 1000);
}
