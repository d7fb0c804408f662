// kernels/cpu/dequantize against plain reference decodes of hand-built GGML
// blocks and against gguf-py's decodes of random blocks of every quantized
// type (tests/data/dequantize_vectors.bin, tools/testdata/), plus f16/bf16
// conversion edge cases and quantize round-trip bounds.
#include "cpu/dequantize.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "model/gguf_format.h"
#include "model/gguf_quantize.h"
#include "runtime/session_file.h"
#include "test_util.h"

namespace {

using namespace ringlm;
using namespace ringlm::kernels::cpu;

// IEEE half decoded arithmetically (no bit tricks): the independent reference.
double ref_fp16(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  const double sign = s ? -1.0 : 1.0;
  if (e == 0) return sign * std::ldexp(m, -24);
  if (e == 31) return m ? std::numeric_limits<double>::quiet_NaN() : sign * INFINITY;
  return sign * std::ldexp(1024 + m, e - 25);
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(x & 0xFF);
  v.push_back(x >> 8);
}

}  // namespace

TEST_CASE("fp16_to_fp32 matches an arithmetic decode for all 65536 values", "[dequantize]") {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    const double r = ref_fp16(static_cast<uint16_t>(h));
    if (std::isnan(r)) {
      REQUIRE(std::isnan(f));
      // Round trip keeps NaN-ness and sign.
      const uint16_t back = fp32_to_fp16(f);
      REQUIRE((back & 0x7C00) == 0x7C00);
      REQUIRE((back & 0x3FF) != 0);
      REQUIRE((back & 0x8000) == (h & 0x8000));
    } else {
      REQUIRE(static_cast<double>(f) == r);
      REQUIRE(std::signbit(f) == ((h & 0x8000) != 0));
      // Every finite/inf half round-trips exactly (including -0 and subnormals).
      REQUIRE(fp32_to_fp16(f) == h);
    }
  }
}

TEST_CASE("fp32_to_fp16 rounds to nearest even, overflows to inf", "[dequantize]") {
  CHECK(fp32_to_fp16(0.0f) == 0x0000);
  CHECK(fp32_to_fp16(-0.0f) == 0x8000);
  CHECK(fp32_to_fp16(1.0f) == 0x3C00);
  CHECK(fp32_to_fp16(-2.0f) == 0xC000);
  CHECK(fp32_to_fp16(65504.0f) == 0x7BFF);
  CHECK(fp32_to_fp16(65519.99f) == 0x7BFF);
  CHECK(fp32_to_fp16(65520.0f) == 0x7C00);  // tie between 65504 and 2^16 -> even (inf)
  CHECK(fp32_to_fp16(1e10f) == 0x7C00);
  CHECK(fp32_to_fp16(-1e10f) == 0xFC00);
  CHECK(fp32_to_fp16(INFINITY) == 0x7C00);
  CHECK(fp32_to_fp16(-INFINITY) == 0xFC00);
  const uint16_t qnan = fp32_to_fp16(std::numeric_limits<float>::quiet_NaN());
  CHECK((qnan & 0x7C00) == 0x7C00);
  CHECK((qnan & 0x3FF) != 0);
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1.0).
  CHECK(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);
  // 1 + 3 * 2^-11 is halfway between 1 + 2^-10 (odd) and 1 + 2^-9: up.
  CHECK(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);
  CHECK(fp32_to_fp16(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)) == 0x3C01);
  // Subnormals: unit 2^-24.
  CHECK(fp32_to_fp16(std::ldexp(1.0f, -24)) == 0x0001);
  CHECK(fp32_to_fp16(std::ldexp(1.0f, -25)) == 0x0000);  // tie -> even (0)
  CHECK(fp32_to_fp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001);
  CHECK(fp32_to_fp16(3 * std::ldexp(1.0f, -25)) == 0x0002);  // 1.5 units -> 2
  CHECK(fp32_to_fp16(-5 * std::ldexp(1.0f, -24)) == 0x8005);
  CHECK(fp32_to_fp16(std::ldexp(1.0f, -14)) == 0x0400);     // smallest normal
  CHECK(fp32_to_fp16(std::ldexp(1023.5f, -24)) == 0x0400);  // rounds up into the normals
  CHECK(fp32_to_fp16(std::ldexp(1.0f, -30)) == 0x0000);
  CHECK(fp32_to_fp16(from_bits(1)) == 0x0000);  // f32 subnormal
}

TEST_CASE("bf16 conversions", "[dequantize]") {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = bf16_to_fp32(static_cast<uint16_t>(h));
    REQUIRE(bits(f) == h << 16);
    if (!std::isnan(f)) REQUIRE(fp32_to_bf16(f) == h);
  }
  CHECK(fp32_to_bf16(1.0f) == 0x3F80);
  CHECK(fp32_to_bf16(INFINITY) == 0x7F80);
  CHECK(fp32_to_bf16(-INFINITY) == 0xFF80);
  CHECK(fp32_to_bf16(from_bits(0x3F808000)) == 0x3F80);  // tie, even stays
  CHECK(fp32_to_bf16(from_bits(0x3F818000)) == 0x3F82);  // tie, odd rounds up
  CHECK(fp32_to_bf16(from_bits(0x3F808001)) == 0x3F81);
  CHECK(fp32_to_bf16(from_bits(0x7F7FFFFF)) == 0x7F80);      // FLT_MAX rounds to inf
  CHECK(fp32_to_bf16(from_bits(0x00018000)) == 0x0002);      // subnormal, tie to even
  const uint16_t nan = fp32_to_bf16(from_bits(0x7F800001));  // NaN whose payload is all low bits
  CHECK(std::isnan(bf16_to_fp32(nan)));
  CHECK((nan & 0x40) != 0);  // forced quiet
}

TEST_CASE("Q8_0 hand-built blocks", "[dequantize]") {
  const uint16_t ds[2] = {0x3C00 /*1.0*/, 0xAE66 /*~-0.1*/};
  std::vector<uint8_t> blocks;
  std::vector<double> expect;
  for (uint16_t d : ds) {
    put16(blocks, d);
    for (int j = 0; j < 32; ++j) {
      const int8_t q = static_cast<int8_t>(j * 8 - 128 + (j % 3));
      blocks.push_back(static_cast<uint8_t>(q));
      expect.push_back(q * ref_fp16(d));
    }
  }
  std::vector<float> out(64);
  REQUIRE(dequantize(DType::kQ8_0, blocks.data(), out.data(), 64));
  for (int i = 0; i < 64; ++i) CHECK(out[i] == Approx(expect[i]).margin(0).epsilon(1e-7));
}

TEST_CASE("Q4_0 hand-built blocks: low nibbles are elements 0..15", "[dequantize]") {
  std::vector<uint8_t> blocks;
  std::vector<double> expect(64);
  const uint16_t ds[2] = {0x3800 /*0.5*/, 0xC200 /*-3*/};
  for (int b = 0; b < 2; ++b) {
    put16(blocks, ds[b]);
    for (int j = 0; j < 16; ++j) {
      const int lo = (j + b) % 16, hi = 15 - j;
      blocks.push_back(static_cast<uint8_t>(lo | (hi << 4)));
      expect[b * 32 + j] = (lo - 8) * ref_fp16(ds[b]);
      expect[b * 32 + 16 + j] = (hi - 8) * ref_fp16(ds[b]);
    }
  }
  std::vector<float> out(64);
  REQUIRE(dequantize(DType::kQ4_0, blocks.data(), out.data(), 64));
  for (int i = 0; i < 64; ++i) CHECK(out[i] == expect[i]);  // exact: small ints x powers of 2
}

TEST_CASE("Q4_1 hand-built blocks", "[dequantize]") {
  std::vector<uint8_t> blocks;
  std::vector<double> expect(64);
  const uint16_t ds[2] = {0x2E66 /*~0.1*/, 0x3C00};
  const uint16_t ms[2] = {0xBC00 /*-1*/, 0x4500 /*5*/};
  for (int b = 0; b < 2; ++b) {
    put16(blocks, ds[b]);
    put16(blocks, ms[b]);
    for (int j = 0; j < 16; ++j) {
      const int lo = j, hi = (j * 7) % 16;
      blocks.push_back(static_cast<uint8_t>(lo | (hi << 4)));
      expect[b * 32 + j] = lo * ref_fp16(ds[b]) + ref_fp16(ms[b]);
      expect[b * 32 + 16 + j] = hi * ref_fp16(ds[b]) + ref_fp16(ms[b]);
    }
  }
  std::vector<float> out(64);
  REQUIRE(dequantize(DType::kQ4_1, blocks.data(), out.data(), 64));
  for (int i = 0; i < 64; ++i) CHECK(out[i] == Approx(expect[i]).margin(1e-6));
}

TEST_CASE("F32, F16, BF16 and I32 through dequantize()", "[dequantize]") {
  const std::vector<float> x = {0.f, -1.5f, 3.25f, 1e-3f, -65504.f, 7.f, 0.1f, -0.f};
  std::vector<float> out(x.size());
  REQUIRE(dequantize(DType::kF32, x.data(), out.data(), 8));
  CHECK(out == x);
  std::vector<uint16_t> h(x.size()), b(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    h[i] = fp32_to_fp16(x[i]);
    b[i] = fp32_to_bf16(x[i]);
  }
  REQUIRE(dequantize(DType::kF16, h.data(), out.data(), 8));
  for (size_t i = 0; i < x.size(); ++i) CHECK(out[i] == static_cast<float>(ref_fp16(h[i])));
  REQUIRE(dequantize(DType::kBF16, b.data(), out.data(), 8));
  for (size_t i = 0; i < x.size(); ++i) CHECK(bits(out[i]) == static_cast<uint32_t>(b[i]) << 16);
  CHECK_FALSE(dequantize(DType::kI32, x.data(), out.data(), 8));
  CHECK(dequantize(DType::kQ8_0, nullptr, nullptr, 0));
}

TEST_CASE("quantize -> dequantize round trip stays within the block bounds", "[dequantize]") {
  const DType type = GENERATE(DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kF16, DType::kBF16);
  const int64_t n = 32 * 4096 + 32 * 7;  // large enough for the threaded path
  const float scale = GENERATE(1.0f, 1e-3f, 300.0f);
  std::vector<float> x = ringlm::test::random_floats(n, 17, -scale, scale);
  for (int j = 0; j < 32; ++j) x[j] = 0.0f;            // an all-zero block: d = 0
  for (int j = 32; j < 64; ++j) x[j] = 0.25f * scale;  // a constant block
  INFO(dtype_name(type) << " scale " << scale);
  const std::vector<uint8_t> q = quantize(type, x);
  REQUIRE(static_cast<int64_t>(q.size()) == dtype_row_bytes(type, n));
  std::vector<float> y(n);
  REQUIRE(dequantize(type, q.data(), y.data(), n));
  for (int64_t b = 0; b < n / 32; ++b) {
    float lo = INFINITY, hi = -INFINITY, amax = 0;
    for (int j = 0; j < 32; ++j) {
      lo = std::min(lo, x[b * 32 + j]);
      hi = std::max(hi, x[b * 32 + j]);
      amax = std::max(amax, std::fabs(x[b * 32 + j]));
    }
    // Scales are stored as f16: relative error 2^-11, absolute 2^-25 when subnormal.
    auto f16_err = [](double v) { return std::max(std::fabs(v) / 2048, std::ldexp(1.0, -25)); };
    double bound = 0;
    switch (type) {
      case DType::kQ8_0: {
        const double d = amax / 127.0;
        bound = 0.5 * d + 127 * f16_err(d);
        break;
      }
      case DType::kQ4_0: {
        const double d = amax / 8.0;
        bound = d + 8 * f16_err(d);  // the clamp at +8 -> 7 costs a whole step
        break;
      }
      case DType::kQ4_1: {
        const double d = (hi - lo) / 15.0;
        bound = 0.5 * d + 15 * f16_err(d) + f16_err(lo);
        break;
      }
      case DType::kF16:
        bound = f16_err(amax);
        break;
      default:
        bound = amax / 256;
        break;  // bf16: 8 significant bits
    }
    for (int j = 0; j < 32; ++j) {
      const int64_t i = b * 32 + j;
      if (std::fabs(y[i] - x[i]) > bound) {
        FAIL("element " << i << ": x " << x[i] << " y " << y[i] << " bound " << bound);
      }
    }
  }
  for (int j = 0; j < 32; ++j) REQUIRE(y[j] == 0.0f);
}

TEST_CASE("every quantized type decodes as gguf-py decodes it", "[dequantize]") {
  const auto file =
      read_whole_file(ringlm::test::source_dir() + "/tests/data/dequantize_vectors.bin", 1 << 20);
  REQUIRE(file.ok());
  const std::vector<uint8_t>& f = file.value();
  std::vector<std::string> seen;
  size_t off = 0;
  while (off < f.size()) {
    REQUIRE(f.size() - off >= 24);
    const std::string name(reinterpret_cast<const char*>(f.data() + off),
                           strnlen(reinterpret_cast<const char*>(f.data() + off), 8));
    uint32_t hdr[4];
    std::memcpy(hdr, f.data() + off + 8, 16);
    off += 24;
    const auto [ggml_type, nblocks, block_bytes, block_elems] = hdr;
    INFO(name);
    const auto type = ggml_type_to_dtype(ggml_type);
    REQUIRE(type.has_value());
    CHECK(dtype_name(*type) == name);
    CHECK(dtype_block_bytes(*type) == block_bytes);
    CHECK(dtype_block_elems(*type) == block_elems);
    const size_t n = size_t(nblocks) * block_elems;
    REQUIRE(f.size() - off >= size_t(nblocks) * block_bytes + 4 * n);
    const uint8_t* bytes = f.data() + off;
    std::vector<float> want(n), got(n, -1.f);
    std::memcpy(want.data(), bytes + size_t(nblocks) * block_bytes, 4 * n);
    off += size_t(nblocks) * block_bytes + 4 * n;
    REQUIRE(dequantize(*type, bytes, got.data(), int64_t(n)));
    size_t differ = 0;
    for (size_t i = 0; i < n; ++i) {
      // The same float operations in the same order: equal bits.
      if (bits(got[i]) != bits(want[i]) && !(got[i] == 0.f && want[i] == 0.f)) {
        if (differ++ < 5) UNSCOPED_INFO("element " << i << ": " << got[i] << " vs " << want[i]);
      }
    }
    CHECK(differ == 0);
    seen.push_back(name);
  }
  const std::vector<std::string> all = {"Q8_0", "Q4_0",  "Q4_1", "Q5_0", "Q5_1", "IQ4_NL",
                                        "Q2_K", "Q3_K",  "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"};
  CHECK(seen == all);
}

TEST_CASE("the other quantizers round-trip within a step of their grids", "[dequantize]") {
  const DType type = GENERATE(DType::kQ5_0, DType::kQ5_1, DType::kIQ4_NL, DType::kQ2_K,
                              DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K,
                              DType::kIQ4_XS);
  const float scale = GENERATE(1.0f, 1e-3f, 300.0f);
  const int64_t be = dtype_block_elems(type);
  const int64_t n = be * 40;
  std::vector<float> x = ringlm::test::random_floats(n, 23, -scale, scale);
  for (int64_t j = 0; j < be; ++j) x[j] = 0.0f;                // an all-zero block
  for (int64_t j = be; j < 2 * be; ++j) x[j] = 0.25f * scale;  // a constant block
  for (int64_t j = 2 * be; j < 3 * be; ++j) x[j] = -0.5f * scale * float(j % 7) / 6;  // <= 0
  for (int64_t j = 3 * be; j < 3 * be + 16; ++j) x[j] *= 1e-3f;  // a quiet sub-block
  INFO(dtype_name(type) << " scale " << scale);
  const std::vector<uint8_t> q = quantize(type, x);
  REQUIRE(static_cast<int64_t>(q.size()) == dtype_row_bytes(type, n));
  std::vector<float> y(n);
  REQUIRE(dequantize(type, q.data(), y.data(), n));
  for (int64_t b = 0; b < n / be; ++b) {
    float lo = 0, hi = 0, amax = 0;  // over the block, 0 included
    for (int64_t j = 0; j < be; ++j) {
      lo = std::min(lo, x[b * be + j]);
      hi = std::max(hi, x[b * be + j]);
      amax = std::max(amax, std::fabs(x[b * be + j]));
    }
    // Each bound is what the coarsest grid the block can get allows: half a
    // step (affine types, whose range covers the block), a whole step where
    // the positive end is clamped (symmetric types), the table's widest gap
    // (IQ4). The slack covers f16 scales (2^-11 relative, 2^-24 subnormal).
    double bound = 0;
    switch (type) {
      case DType::kQ5_0: bound = amax / 16.0; break;       // the clamp at +16 -> 15
      case DType::kQ5_1: bound = 0.5 * (hi - lo) / 31.0; break;
      case DType::kIQ4_NL: bound = 14 * amax / 127.0; break;  // 127 -> table's 113
      case DType::kQ2_K: bound = 0.5 * (hi - lo) / 3.0 * std::pow(1 + 1 / 15.0, 2); break;
      case DType::kQ3_K: bound = amax / 4.0 * (1 + 1 / 31.0); break;
      case DType::kQ4_K: bound = 0.5 * (hi - lo) / 15.0 * std::pow(1 + 1 / 63.0, 2); break;
      case DType::kQ5_K: bound = 0.5 * (hi - lo) / 31.0 * std::pow(1 + 1 / 63.0, 2); break;
      case DType::kQ6_K: bound = amax / 32.0 * (1 + 1 / 127.0); break;
      default: bound = 14 * amax / 127.0 * (1 + 1 / 31.0); break;  // IQ4_XS
    }
    bound += amax * std::ldexp(1.0, -8) + std::ldexp(1.0, -20);
    double worst = 0;
    for (int64_t j = 0; j < be; ++j)
      worst = std::max(worst, double(std::fabs(y[b * be + j] - x[b * be + j])));
    if (worst > bound) FAIL("block " << b << ": error " << worst << " above " << bound);
  }
  for (int64_t j = 0; j < be; ++j) REQUIRE(y[j] == 0.0f);
}
