#include "model/gguf_quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/dequantize.h"
#include "model/gguf_quantize_blocks.h"

namespace ringlm {
namespace {

using kernels::cpu::fp32_to_bf16;
using kernels::cpu::fp32_to_fp16;

constexpr int kQk = 32;

void store_u16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v & 0xFF);
  p[1] = static_cast<uint8_t>(v >> 8);
}

// quantize_row_q8_0_ref: d = max|x| / 127, q = round(x / d).
void quantize_q8_0(const float* x, uint8_t* blk) {
  float amax = 0.0f;
  for (int j = 0; j < kQk; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  store_u16(blk, fp32_to_fp16(d));
  for (int j = 0; j < kQk; ++j) {
    blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::roundf(x[j] * id)));
  }
}

// quantize_row_q4_0_ref: d = (signed value of largest magnitude) / -8.
void quantize_q4_0(const float* x, uint8_t* blk) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kQk; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  const float d = max / -8.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  store_u16(blk, fp32_to_fp16(d));
  for (int j = 0; j < kQk / 2; ++j) {
    const int xi0 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
    const int xi1 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j + kQk / 2] * id + 8.5f)));
    blk[2 + j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
  }
}

// quantize_row_q4_1_ref: d = (max - min) / 15, m = min.
void quantize_q4_1(const float* x, uint8_t* blk) {
  float min = INFINITY, max = -INFINITY;
  for (int j = 0; j < kQk; ++j) {
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
  const float d = (max - min) / 15.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  store_u16(blk, fp32_to_fp16(d));
  store_u16(blk + 2, fp32_to_fp16(min));
  for (int j = 0; j < kQk / 2; ++j) {
    const int xi0 = std::min(15, static_cast<int>(static_cast<int8_t>((x[j] - min) * id + 0.5f)));
    const int xi1 =
        std::min(15, static_cast<int>(static_cast<int8_t>((x[j + kQk / 2] - min) * id + 0.5f)));
    blk[4 + j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
  }
}

template <void (*Encode)(const float*, uint8_t*)>
bool each_block(DType t, const float* src, uint8_t* out, int64_t n) {
  const int64_t elems = dtype_block_elems(t), bytes = dtype_block_bytes(t);
  for (int64_t b = 0; b < n / elems; ++b) Encode(src + b * elems, out + b * bytes);
  return true;
}

}  // namespace

bool quantize(DType t, const float* src, void* dst, int64_t n) {
  if (t == DType::kI32 || n < 0 || n % dtype_block_elems(t) != 0) return false;
  auto* out = static_cast<uint8_t*>(dst);
  switch (t) {
    case DType::kF32:
      if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return true;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) store_u16(out + 2 * i, fp32_to_fp16(src[i]));
      return true;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) store_u16(out + 2 * i, fp32_to_bf16(src[i]));
      return true;
    case DType::kQ8_0:
      return each_block<quantize_q8_0>(t, src, out, n);
    case DType::kQ4_0:
      return each_block<quantize_q4_0>(t, src, out, n);
    case DType::kQ4_1:
      return each_block<quantize_q4_1>(t, src, out, n);
    case DType::kI32:
      return false;
    case DType::kQ5_0:
      return each_block<quant_blocks::q5_0>(t, src, out, n);
    case DType::kQ5_1:
      return each_block<quant_blocks::q5_1>(t, src, out, n);
    case DType::kIQ4_NL:
      return each_block<quant_blocks::iq4_nl>(t, src, out, n);
    case DType::kQ2_K:
      return each_block<quant_blocks::q2_k>(t, src, out, n);
    case DType::kQ3_K:
      return each_block<quant_blocks::q3_k>(t, src, out, n);
    case DType::kQ4_K:
      return each_block<quant_blocks::q4_k>(t, src, out, n);
    case DType::kQ5_K:
      return each_block<quant_blocks::q5_k>(t, src, out, n);
    case DType::kQ6_K:
      return each_block<quant_blocks::q6_k>(t, src, out, n);
    case DType::kIQ4_XS:
      return each_block<quant_blocks::iq4_xs>(t, src, out, n);
  }
  return false;
}

std::vector<uint8_t> quantize(DType t, std::span<const float> src) {
  const auto n = static_cast<int64_t>(src.size());
  if (t == DType::kI32 || n % dtype_block_elems(t) != 0) return {};
  std::vector<uint8_t> out(static_cast<size_t>(dtype_row_bytes(t, n)));
  quantize(t, src.data(), out.data(), n);
  return out;
}

}  // namespace ringlm
