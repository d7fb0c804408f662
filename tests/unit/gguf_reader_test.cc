// GgufFile + GgufWriter: metadata and tensor round trips, typed getters, the
// default model, and a cross-check of tensor decoding against gguf-py.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "cpu/dequantize.h"
#include "model/gguf.h"
#include "model/gguf_quantize.h"
#include "model/gguf_writer.h"
#include "test_util.h"

namespace {

using namespace ringlm;
using VT = GgufValueType;

std::unique_ptr<GgufFile> open_bytes(const GgufWriter& w) {
  auto bytes = w.to_bytes();
  REQUIRE(bytes.ok());
  auto f = GgufFile::FromBytes(std::move(bytes).value());
  INFO(f.status().ToString());
  REQUIRE(f.ok());
  return std::move(f).value();
}

// One value of every type, arrays of every type, nested and empty arrays.
std::vector<std::pair<std::string, GgufValue>> all_values() {
  std::vector<std::pair<std::string, GgufValue>> kv = {
      {"t.u8", GgufValue::Unsigned(VT::kU8, 255)},
      {"t.i8", GgufValue::Signed(VT::kI8, -128)},
      {"t.u16", GgufValue::Unsigned(VT::kU16, 65535)},
      {"t.i16", GgufValue::Signed(VT::kI16, -32768)},
      {"t.u32", GgufValue::Unsigned(VT::kU32, 4000000000u)},
      {"t.i32", GgufValue::Signed(VT::kI32, -2000000000)},
      {"t.f32", GgufValue::Float(VT::kF32, 0.1f)},
      {"t.f32_neg_zero", GgufValue::Float(VT::kF32, -0.0f)},
      {"t.f32_inf", GgufValue::Float(VT::kF32, INFINITY)},
      {"t.bool_true", GgufValue::Bool(true)},
      {"t.bool_false", GgufValue::Bool(false)},
      {"t.string", GgufValue::String("h\xc3\xa9llo, w\xe2\x80\x99rld")},
      {"t.string_empty", GgufValue::String("")},
      {"t.string_nul", GgufValue::String(std::string("a\0b", 3))},
      {"t.u64", GgufValue::Unsigned(VT::kU64, std::numeric_limits<uint64_t>::max())},
      {"t.i64", GgufValue::Signed(VT::kI64, std::numeric_limits<int64_t>::min())},
      {"t.f64", GgufValue::Float(VT::kF64, 1.0 / 3.0)},
  };
  const VT scalars[] = {VT::kU8,  VT::kI8,   VT::kU16, VT::kI16, VT::kU32, VT::kI32,
                        VT::kF32, VT::kBool, VT::kU64, VT::kI64, VT::kF64};
  for (VT t : scalars) {
    std::vector<GgufValue> items;
    for (int i = 0; i < 5; ++i) {
      if (t == VT::kBool) {
        items.push_back(GgufValue::Bool(i % 2));
      } else if (t == VT::kF32 || t == VT::kF64) {
        items.push_back(GgufValue::Float(t, i * 0.5 - 1));
      } else if (t == VT::kI8 || t == VT::kI16 || t == VT::kI32 || t == VT::kI64) {
        items.push_back(GgufValue::Signed(t, i - 2));
      } else {
        items.push_back(GgufValue::Unsigned(t, i * 7));
      }
    }
    kv.emplace_back("t.array." + std::string(gguf_value_type_name(t)),
                    GgufValue::Array(t, std::move(items)));
  }
  kv.emplace_back("t.array.string",
                  GgufValue::Array(VT::kString, {GgufValue::String("a"), GgufValue::String(""),
                                                 GgufValue::String("xyz")}));
  kv.emplace_back("t.array.empty", GgufValue::Array(VT::kI32, {}));
  std::vector<GgufValue> inner;
  for (int i = 0; i < 3; ++i) {
    std::vector<GgufValue> row;
    for (int j = 0; j <= i; ++j) row.push_back(GgufValue::Signed(VT::kI32, i * 10 + j));
    inner.push_back(GgufValue::Array(VT::kI32, std::move(row)));
  }
  kv.emplace_back("t.array.nested", GgufValue::Array(VT::kArray, std::move(inner)));
  return kv;
}

}  // namespace

TEST_CASE("every metadata type round-trips through the writer", "[gguf]") {
  const uint32_t version = GENERATE(2u, 3u);
  GgufWriter w(version);
  const auto kv = all_values();
  for (const auto& [k, v] : kv) w.add(k, v);
  auto f = open_bytes(w);
  CHECK(f->version() == version);
  REQUIRE(f->keys().size() == kv.size());
  for (size_t i = 0; i < kv.size(); ++i) {
    INFO(kv[i].first);
    CHECK(f->keys()[i] == kv[i].first);
    const GgufValue* v = f->find(kv[i].first);
    REQUIRE(v);
    CHECK(v->type_name() == kv[i].second.type_name());
    CHECK(*v == kv[i].second);
  }
  CHECK(f->find("t.array.nested")->type_name() == "array[array[i32]]");
  CHECK(f->find("t.array.nested")->at(2).at(1).as_signed() == 21);
  CHECK(f->find("t.array.string")->string_at(2) == "xyz");
  CHECK(f->find("nope") == nullptr);
  CHECK(f->tensors().empty());
}

TEST_CASE("typed getters convert or fail with the key and type named", "[gguf]") {
  GgufWriter w;
  for (const auto& [k, v] : all_values()) w.add(k, v);
  w.add_string_array("t.strs", {"x", "yy"});
  w.add_f32_array("t.f32s", {1.5f, -2.f});
  w.add_i32_array("t.i32s", {3, -4, 5});
  auto f = open_bytes(w);

  CHECK(f->get_int("t.u8").value() == 255);
  CHECK(f->get_int("t.i8").value() == -128);
  CHECK(f->get_int("t.u32").value() == 4000000000ll);
  CHECK(f->get_int("t.i64").value() == std::numeric_limits<int64_t>::min());
  CHECK(f->get_float("t.f32").value() == static_cast<double>(0.1f));
  CHECK(f->get_float("t.f64").value() == 1.0 / 3.0);
  CHECK(f->get_float("t.i16").value() == -32768.0);
  CHECK(f->get_bool("t.bool_true").value());
  CHECK_FALSE(f->get_bool("t.bool_false").value());
  CHECK(f->get_string("t.string_nul").value() == std::string("a\0b", 3));
  CHECK(f->get_string_array("t.strs").value() == std::vector<std::string>{"x", "yy"});
  CHECK(f->get_float_array("t.f32s").value() == std::vector<double>{1.5, -2.0});
  CHECK(f->get_float_array("t.i32s").value() == std::vector<double>{3, -4, 5});
  CHECK(f->get_int_array("t.i32s").value() == std::vector<int64_t>{3, -4, 5});
  CHECK(f->get_int_array("t.array.u64").value() == std::vector<int64_t>{0, 7, 14, 21, 28});
  CHECK(f->get_int_array("t.array.empty").value().empty());

  auto missing = f->get_int("no.such.key");
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK_THAT(missing.status().message(), Catch::Contains("no.such.key"));
  auto wrong = f->get_bool("t.u32");
  CHECK(wrong.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(wrong.status().message(), Catch::Contains("t.u32") && Catch::Contains("u32"));
  CHECK(f->get_int("t.f32").status().code() == StatusCode::kInvalidArgument);
  CHECK(f->get_int("t.u64").status().code() == StatusCode::kInvalidArgument);  // > INT64_MAX
  CHECK(f->get_string("t.i32").status().code() == StatusCode::kInvalidArgument);
  CHECK(f->get_float("t.string").status().code() == StatusCode::kInvalidArgument);
  auto arr = f->get_string_array("t.i32s");
  CHECK(arr.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(arr.status().message(), Catch::Contains("array[i32]"));
  CHECK(f->get_int_array("t.f32s").status().code() == StatusCode::kInvalidArgument);
  CHECK(f->get_int_array("t.array.bool").status().code() == StatusCode::kInvalidArgument);
  CHECK(f->get_float_array("t.strs").status().code() == StatusCode::kInvalidArgument);
  CHECK(f->get_int_array("t.u8").status().code() == StatusCode::kInvalidArgument);
}

// "t<i>" (appending: GCC 12 warns falsely on `"t" + std::to_string(i)`).
std::string tensor_name(size_t i) {
  std::string n = "t";
  n += std::to_string(i);
  return n;
}

TEST_CASE("every tensor type round-trips, honouring the alignment", "[gguf]") {
  const DType type = GENERATE(DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0,
                              DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kIQ4_NL,
                              DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K,
                              DType::kQ6_K, DType::kIQ4_XS);
  const uint32_t alignment = GENERATE(32u, 64u, 256u);
  INFO(dtype_name(type) << " alignment " << alignment);
  // Rows are whole blocks: of 32 elements, or of 256 for the super-block types.
  const int64_t k = dtype_block_elems(type) > 32 ? 8 : 1;
  const std::vector<std::vector<int64_t>> shapes = {
      {64 * k, 3}, {32 * k}, {32 * k, 2, 2, 2}, {96 * k, 1, 5}};
  GgufWriter w;
  if (alignment != 32) w.add_u32("general.alignment", alignment);
  w.add_string("general.architecture", "llama");
  std::vector<std::vector<float>> values;
  for (size_t s = 0; s < shapes.size(); ++s) {
    int64_t n = 1;
    for (int64_t d : shapes[s]) n *= d;
    values.push_back(test::random_floats(n, 100 + s, -2.f, 2.f));
    REQUIRE(w.add_tensor_f32(tensor_name(s), type, shapes[s], values.back()).ok());
  }
  if (type == DType::kF32)
    REQUIRE(w.add_tensor_f32("scalar", type, {}, std::vector<float>{4.f}).ok());
  auto f = open_bytes(w);
  CHECK(f->alignment() == alignment);
  CHECK(f->data_offset() % alignment == 0);
  REQUIRE(f->tensors().size() == shapes.size() + (type == DType::kF32 ? 1 : 0));
  for (size_t s = 0; s < shapes.size(); ++s) {
    const GgufTensorInfo* t = f->find_tensor(tensor_name(s));
    REQUIRE(t);
    CHECK(t == &f->tensors()[s]);
    CHECK(t->type == type);
    CHECK(t->ne == shapes[s]);
    CHECK(t->elements() == static_cast<int64_t>(values[s].size()));
    CHECK(t->offset % alignment == 0);
    const std::vector<uint8_t> expect_bytes = quantize(type, values[s]);
    auto bytes = f->tensor_bytes(*t);
    REQUIRE(bytes.size() == expect_bytes.size());
    CHECK(std::memcmp(bytes.data(), expect_bytes.data(), bytes.size()) == 0);
    std::vector<float> expect(values[s].size());
    REQUIRE(kernels::cpu::dequantize(type, expect_bytes.data(), expect.data(), expect.size()));
    auto got = f->read_tensor_f32(*t);
    REQUIRE(got.ok());
    CHECK(got.value() == expect);
  }
  if (type == DType::kF32) {
    const GgufTensorInfo* sc = f->find_tensor("scalar");
    REQUIRE(sc);
    CHECK(sc->ne.empty());
    CHECK(f->read_tensor_f32(*sc).value() == std::vector<float>{4.f});
  }
  CHECK(f->find_tensor("t9") == nullptr);
  GgufTensorInfo foreign = f->tensors()[0];
  CHECK(f->read_tensor_f32(foreign).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("writer rejects bad tensors", "[gguf]") {
  GgufWriter w;
  const std::vector<float> v(64, 1.f);
  CHECK(w.add_tensor_f32("a", DType::kQ8_0, {16, 4}, v).code() == StatusCode::kInvalidArgument);
  CHECK(w.add_tensor_f32("a", DType::kF32, {64, 2}, v).code() == StatusCode::kInvalidArgument);
  CHECK(w.add_tensor_f32("a", DType::kI32, {64}, v).code() == StatusCode::kInvalidArgument);
  CHECK(w.add_tensor_f32("a", DType::kF32, {1, 1, 1, 1, 64}, v).code() ==
        StatusCode::kInvalidArgument);
  CHECK(w.add_tensor_f32("a", DType::kF32, {64}, v).ok());
  CHECK(w.add_tensor_f32("a", DType::kF32, {64}, v).code() == StatusCode::kInvalidArgument);
  GgufWriter bad;
  bad.add_u32("general.alignment", 48);
  CHECK(bad.to_bytes().status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Open reads a written file; fingerprint covers metadata, not data", "[gguf]") {
  const std::string dir = test::temp_dir("gguf_reader_open");
  auto make = [&](const std::string& name, float value, uint32_t ctx) {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_u32("llama.context_length", ctx);
    REQUIRE(w.add_tensor_f32("w", DType::kF32, {4}, std::vector<float>(4, value)).ok());
    REQUIRE(w.write(dir + "/" + name).ok());
    auto f = GgufFile::Open(dir + "/" + name);
    INFO(f.status().ToString());
    REQUIRE(f.ok());
    return std::move(f).value();
  };
  auto a = make("a.gguf", 1.f, 128);
  auto b = make("b.gguf", 2.f, 128);  // same header, different data
  auto c = make("c.gguf", 1.f, 256);  // different metadata
  CHECK(a->path() == dir + "/a.gguf");
  CHECK(a->get_int("llama.context_length").value() == 128);
  CHECK(a->read_tensor_f32(*a->find_tensor("w")).value() == std::vector<float>(4, 1.f));
  CHECK(a->fingerprint() == b->fingerprint());
  CHECK(a->fingerprint() != c->fingerprint());
  CHECK(a->fingerprint() == make("a2.gguf", 1.f, 128)->fingerprint());

  auto missing = GgufFile::Open(dir + "/missing.gguf");
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK_THAT(missing.status().message(), Catch::Contains("missing.gguf"));
  CHECK(GgufFile::Open(dir).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("the default model opens", "[gguf][model]") {
  auto r = GgufFile::Open(test::model_path());
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  const GgufFile& f = *r.value();
  CHECK(f.version() == 3);
  CHECK(f.tensors().size() == 272);
  CHECK(f.get_int("llama.block_count").value() == 30);
  CHECK(f.get_string("general.architecture").value() == "llama");
  CHECK(f.get_float("llama.rope.freq_base").value() > 0);
  CHECK(f.get_string_array("tokenizer.ggml.tokens").value().size() == 49152);
  CHECK(f.get_int_array("tokenizer.ggml.token_type").value().size() == 49152);
  const GgufTensorInfo* emb = f.find_tensor("token_embd.weight");
  REQUIRE(emb);
  CHECK(emb->type == DType::kQ8_0);
  CHECK(emb->ne == std::vector<int64_t>{576, 49152});
  CHECK(f.find_tensor("blk.0.attn_q.weight")->type == DType::kQ4_1);
  CHECK(f.fingerprint() != 0);
}

namespace {

bool have_gguf_py() { return std::system("python3 -c 'import gguf, numpy' >/dev/null 2>&1") == 0; }

std::vector<float> read_f32_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  REQUIRE(in.good());
  const auto size = static_cast<size_t>(in.tellg());
  std::vector<float> v(size / 4);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(size));
  return v;
}

// Dequantizes `names` of `gguf` with gguf-py and compares with read_tensor_f32.
void cross_check(const GgufFile& f, const std::vector<std::string>& names, const std::string& dir) {
  std::string cmd = "python3 '" + test::source_dir() + "/tests/tools/dump_gguf_tensor.py' '" +
                    f.path() + "' '" + dir + "'";
  for (const auto& n : names) cmd += " '" + n + "'";
  INFO(cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
  for (size_t i = 0; i < names.size(); ++i) {
    INFO(names[i]);
    const GgufTensorInfo* t = f.find_tensor(names[i]);
    REQUIRE(t);
    auto ours = f.read_tensor_f32(*t);
    REQUIRE(ours.ok());
    const std::vector<float> ref = read_f32_file(dir + "/" + std::to_string(i) + ".f32");
    REQUIRE(ref.size() == ours.value().size());
    double max_diff = 0;
    for (size_t j = 0; j < ref.size(); ++j) {
      max_diff = std::max(max_diff, std::fabs(double(ref[j]) - double(ours.value()[j])));
    }
    CHECK(max_diff < 1e-6);
  }
}

}  // namespace

TEST_CASE("read_tensor_f32 equals gguf-py's dequantization", "[gguf][model]") {
  if (!have_gguf_py()) {
    WARN("skipped: python3 with the gguf and numpy packages is not available");
    return;
  }
  const std::string dir = test::temp_dir("gguf_reader_pycheck");
  SECTION("default model") {
    auto f = GgufFile::Open(test::model_path());
    REQUIRE(f.ok());
    cross_check(*f.value(),
                {"token_embd.weight", "blk.0.attn_q.weight", "blk.29.ffn_down.weight",
                 "blk.3.attn_norm.weight", "output_norm.weight"},
                dir);
  }
  SECTION("every type the writer produces") {
    GgufWriter w;
    const DType types[] = {DType::kF32,  DType::kF16,  DType::kBF16,   DType::kQ8_0,
                           DType::kQ4_0, DType::kQ4_1, DType::kQ5_0,   DType::kQ5_1,
                           DType::kQ2_K, DType::kQ3_K, DType::kQ4_K,   DType::kQ5_K,
                           DType::kQ6_K, DType::kIQ4_NL, DType::kIQ4_XS};
    std::vector<std::string> names;
    for (DType t : types) {  // rows of 256: whole blocks of every type
      names.push_back(std::string("w.") + std::string(dtype_name(t)));
      REQUIRE(
          w.add_tensor_f32(names.back(), t, {256, 3}, test::random_floats(768, 7, -3.f, 3.f)).ok());
    }
    REQUIRE(w.write(dir + "/all_types.gguf").ok());
    auto f = GgufFile::Open(dir + "/all_types.gguf");
    REQUIRE(f.ok());
    cross_check(*f.value(), names, dir);
  }
}

TEST_CASE("quantize matches gguf-py's quantizers byte for byte", "[gguf]") {
  if (!have_gguf_py()) {
    WARN("skipped: python3 with the gguf and numpy packages is not available");
    return;
  }
  const std::string dir = test::temp_dir("gguf_reader_pyquant");
  std::vector<float> x = test::random_floats(32 * 64, 3, -4.f, 4.f);
  for (int j = 0; j < 32; ++j) x[j] = 0.f;                  // zero block
  for (int j = 32; j < 64; ++j) x[j] = 1.f + j;             // positive-only block
  for (int j = 64; j < 96; ++j) x[j] = -0.5f * j;           // negative-only block
  for (int j = 96; j < 128; ++j) x[j] = 1e-6f * (j - 110);  // f16-subnormal scales
  {
    std::ofstream out(dir + "/x.f32", std::ios::binary);
    out.write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(x.size() * 4));
  }
  const DType type = GENERATE(DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_1,
                              DType::kQ5_0, DType::kQ5_1);
  const std::string name(dtype_name(type));
  INFO(name);
  const std::string cmd = "python3 '" + test::source_dir() +
                          "/tests/tools/dump_gguf_tensor.py' --quantize " + name + " '" + dir +
                          "/x.f32' '" + dir + "/y." + name + "'";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream in(dir + "/y." + name, std::ios::binary);
  const std::vector<uint8_t> ref((std::istreambuf_iterator<char>(in)),
                                 std::istreambuf_iterator<char>());
  const std::vector<uint8_t> ours = quantize(type, x);
  REQUIRE(ours.size() == ref.size());
  size_t mismatches = 0;
  for (size_t i = 0; i < ours.size(); ++i) mismatches += ours[i] != ref[i];
  CHECK(mismatches == 0);
}
