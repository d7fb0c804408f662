// Dequantization: f16/bf16 conversions here, every block type's decoder in
// cpu/dequantize_blocks.h.
#include "cpu/dequantize.h"

#include <cstring>

#include "cpu/dequantize_blocks.h"

namespace ringlm::kernels::cpu {
namespace {

constexpr int64_t kQk = 32;  // elements per block of the 32-element types
// Below this many 32-element blocks the threads cost more than they save.
constexpr int64_t kParallelBlocks = 4096;

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

template <float (*Convert)(uint16_t)>
void dequant_16bit(const uint8_t* src, float* dst, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelBlocks * kQk)
  for (int64_t i = 0; i < n; ++i) dst[i] = Convert(load_u16(src + 2 * i));
}

// A block type: its decoder (cpu/dequantize_blocks.h) per block.
template <void (*Decode)(const uint8_t*, float*)>
bool blocks_of(DType t, const uint8_t* src, float* dst, int64_t n) {
  const int64_t elems = dtype_block_elems(t), bytes = dtype_block_bytes(t), nb = n / elems;
#pragma omp parallel for schedule(static) if (n >= kParallelBlocks * kQk)
  for (int64_t b = 0; b < nb; ++b) Decode(src + b * bytes, dst + b * elems);
  return true;
}

}  // namespace

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t mant = h & 0x3FF;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24, exact in f32.
    const float mag = static_cast<float>(mant) * bits_f32(0x33800000);  // 2^-24
    return bits_f32(f32_bits(mag) | sign);
  }
  if (exp == 31) return bits_f32(sign | 0x7F800000 | (mant << 13));  // inf / nan
  return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t fp32_to_fp16(float f) {
  // Round to nearest, ties to even; overflow to inf; NaN stays NaN (quiet).
  const uint32_t x = f32_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7FFFFFFF;
  if (ax >= 0x7F800000) {
    if (ax == 0x7F800000) return sign | 0x7C00;
    return static_cast<uint16_t>(sign | 0x7E00 | ((ax >> 13) & 0x3FF));
  }
  if (ax >= 0x477FF000) return sign | 0x7C00;  // >= 65520 rounds to inf
  if (ax < 0x38800000) {                       // below 2^-14: f16 subnormal or zero
    if (ax <= 0x33000000) return sign;         // <= 2^-25 rounds to (even) zero
    const uint32_t e = ax >> 23;
    const uint32_t m = (ax & 0x7FFFFF) | 0x800000;
    const uint32_t shift = 126 - e;  // value in units of 2^-24 is m >> shift; 14..24
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;  // may carry into the smallest normal
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t h = ((ax >> 23) - 112) << 10 | ((ax >> 13) & 0x3FF);
  const uint32_t rem = ax & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;  // may carry into the exponent
  return static_cast<uint16_t>(sign | h);
}

float bf16_to_fp32(uint16_t h) { return bits_f32(static_cast<uint32_t>(h) << 16); }

uint16_t fp32_to_bf16(float f) {
  // As ggml: NaN is forced quiet; otherwise round to nearest, ties to even.
  const uint32_t u = f32_bits(f);
  if ((u & 0x7FFFFFFF) > 0x7F800000) return static_cast<uint16_t>((u >> 16) | 64);
  return static_cast<uint16_t>((u + (0x7FFF + ((u >> 16) & 1))) >> 16);
}

bool dequantize(ringlm::DType t, const void* src, float* dst, int64_t n) {
  if (t == DType::kI32) return false;
  if (n <= 0) return true;
  const auto* s = static_cast<const uint8_t*>(src);
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return true;
    case DType::kF16:
      dequant_16bit<fp16_to_fp32>(s, dst, n);
      return true;
    case DType::kBF16:
      dequant_16bit<bf16_to_fp32>(s, dst, n);
      return true;
    case DType::kQ8_0:
      return blocks_of<blocks::q8_0>(t, s, dst, n);
    case DType::kQ4_0:
      return blocks_of<blocks::q4_0>(t, s, dst, n);
    case DType::kQ4_1:
      return blocks_of<blocks::q4_1>(t, s, dst, n);
    case DType::kI32:
      return false;
    case DType::kQ5_0:
      return blocks_of<blocks::q5_0>(t, s, dst, n);
    case DType::kQ5_1:
      return blocks_of<blocks::q5_1>(t, s, dst, n);
    case DType::kIQ4_NL:
      return blocks_of<blocks::iq4_nl>(t, s, dst, n);
    case DType::kQ2_K:
      return blocks_of<blocks::q2_k>(t, s, dst, n);
    case DType::kQ3_K:
      return blocks_of<blocks::q3_k>(t, s, dst, n);
    case DType::kQ4_K:
      return blocks_of<blocks::q4_k>(t, s, dst, n);
    case DType::kQ5_K:
      return blocks_of<blocks::q5_k>(t, s, dst, n);
    case DType::kQ6_K:
      return blocks_of<blocks::q6_k>(t, s, dst, n);
    case DType::kIQ4_XS:
      return blocks_of<blocks::iq4_xs>(t, s, dst, n);
  }
  return false;
}

}  // namespace ringlm::kernels::cpu
