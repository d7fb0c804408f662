#include "model/gguf_quantize_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/dequantize.h"
#include "cpu/dequantize_blocks.h"

namespace ringlm::quant_blocks {
namespace {

using kernels::cpu::fp16_to_fp32;
using kernels::cpu::fp32_to_fp16;
using kernels::cpu::blocks::kIq4nlValues;
using kernels::cpu::blocks::kQk;
using kernels::cpu::blocks::kQkK;

// Stores v as f16 at p and returns the value the decoder will read.
float put_f16(uint8_t* p, float v) {
  const uint16_t h = fp32_to_fp16(v);
  p[0] = uint8_t(h & 0xFF);
  p[1] = uint8_t(h >> 8);
  return fp16_to_fp32(h);
}

// Stores v >= 0 as the nearest f16 at or above it, so that a grid of that
// step reaches as far as a grid of step v (near 2^-14 an f16 keeps few bits).
float put_f16_up(uint8_t* p, float v) {
  uint16_t h = fp32_to_fp16(v);
  if (fp16_to_fp32(h) < v) ++h;
  p[0] = uint8_t(h & 0xFF);
  p[1] = uint8_t(h >> 8);
  return fp16_to_fp32(h);
}

// The value of largest magnitude, with its sign.
float signed_max(const float* x, int n) {
  float amax = 0.f, max = 0.f;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

// Step count of `want` on a grid of `step`, rounded away from zero so that
// the step times the count covers `want`; clipped to [-limit, limit].
int scale_steps(float want, float step, int limit) {
  if (step == 0.f || want == 0.f) return 0;
  const int n = int(std::ceil(std::fabs(want) / step));
  return (want < 0 ? -1 : 1) * std::min(n, limit);
}

int round_clamp(float v, int lo, int hi) {
  return std::clamp(int(std::lrintf(v)), lo, hi);
}

// The index of the IQ4_NL table value nearest v.
int nearest_iq4(float v) {
  int best = 0;
  for (int i = 1; i < 16; ++i)
    if (std::fabs(v - kIq4nlValues[i]) < std::fabs(v - kIq4nlValues[best])) best = i;
  return best;
}

// The 16 values of a block of 32 as IQ4_NL indices against scale d.
void iq4_indices(const float* x, float d, uint8_t* qs) {
  const float id = d != 0.f ? 1.f / d : 0.f;
  for (int j = 0; j < 16; ++j)
    qs[j] = uint8_t(nearest_iq4(x[j] * id) | (nearest_iq4(x[j + 16] * id) << 4));
}

// Affine sub-blocks (Q2_K, Q4_K, Q5_K): value = d * sc * q - dmin * m with
// q in [0, levels], sc and m in [0, scale_max]. Fills sc, m and q for
// `nsub` sub-blocks of `sub` values; returns the stored d and dmin.
void affine_sub_blocks(const float* x, int nsub, int sub, int levels, int scale_max,
                       uint8_t* d_at, uint8_t* dmin_at, uint8_t* sc, uint8_t* m, uint8_t* q) {
  float lo[16], hi[16], max_neg = 0.f;
  for (int s = 0; s < nsub; ++s) {
    lo[s] = 0.f, hi[s] = 0.f;  // the range includes 0: the min is subtracted (m >= 0)
    for (int j = 0; j < sub; ++j) {
      lo[s] = std::min(lo[s], x[s * sub + j]);
      hi[s] = std::max(hi[s], x[s * sub + j]);
    }
    max_neg = std::max(max_neg, -lo[s]);
  }
  const float dmin = put_f16_up(dmin_at, max_neg / float(scale_max));
  float want[16], max_want = 0.f;
  for (int s = 0; s < nsub; ++s) {
    m[s] = uint8_t(scale_steps(-lo[s], dmin, scale_max));
    want[s] = (hi[s] + dmin * float(m[s])) / float(levels);
    max_want = std::max(max_want, want[s]);
  }
  const float d = put_f16_up(d_at, max_want / float(scale_max));
  for (int s = 0; s < nsub; ++s) {
    sc[s] = uint8_t(scale_steps(want[s], d, scale_max));
    const float dl = d * float(sc[s]), ml = dmin * float(m[s]);
    const float id = dl != 0.f ? 1.f / dl : 0.f;
    for (int j = 0; j < sub; ++j) q[s * sub + j] = uint8_t(round_clamp((x[s * sub + j] + ml) * id, 0, levels));
  }
}

// Symmetric sub-blocks (Q3_K, Q6_K, IQ4_XS): each sub-block's signed
// largest value maps to -qmax_neg (the side with one more level); the
// sub-block scales are signed steps of d in [-scale_max, scale_max]. Fills
// sc and returns d (stored at d_at).
float symmetric_scales(const float* x, int nsub, int sub, float qmax_neg, int scale_max,
                       uint8_t* d_at, int* sc) {
  float want[16], max_want = 0.f;
  for (int s = 0; s < nsub; ++s) {
    want[s] = signed_max(x + s * sub, sub) / -qmax_neg;
    max_want = std::max(max_want, std::fabs(want[s]));
  }
  const float d = put_f16_up(d_at, max_want / float(scale_max));
  for (int s = 0; s < nsub; ++s) sc[s] = scale_steps(want[s], d, scale_max);
  return d;
}

// The 6-bit scales and mins of Q4_K / Q5_K into their 12 bytes, as
// blocks::scale_min_k4 reads them.
void pack_scale_min_k4(const uint8_t* sc, const uint8_t* m, uint8_t* q) {
  std::memset(q, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      q[j] |= sc[j];
      q[j + 4] |= m[j];
    } else {
      q[j + 4] = uint8_t((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
      q[j - 4] |= uint8_t((sc[j] >> 4) << 6);
      q[j] |= uint8_t((m[j] >> 4) << 6);
    }
  }
}

}  // namespace

// quantize_row_q5_0_ref.
void q5_0(const float* x, uint8_t* blk) {
  const float max = signed_max(x, kQk);
  const float d = max / -16.f;
  const float id = d != 0.f ? 1.f / d : 0.f;
  put_f16(blk, d);
  uint32_t qh = 0;
  for (int j = 0; j < kQk / 2; ++j) {
    const uint8_t xi0 = uint8_t(std::min(31, int(int8_t(x[j] * id + 16.5f))));
    const uint8_t xi1 = uint8_t(std::min(31, int(int8_t(x[j + kQk / 2] * id + 16.5f))));
    blk[6 + j] = uint8_t((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
    qh |= uint32_t((xi0 & 0x10u) >> 4) << j;
    qh |= uint32_t((xi1 & 0x10u) >> 4) << (j + kQk / 2);
  }
  std::memcpy(blk + 2, &qh, 4);
}

// quantize_row_q5_1_ref.
void q5_1(const float* x, uint8_t* blk) {
  float min = x[0], max = x[0];
  for (int j = 1; j < kQk; ++j) min = std::min(min, x[j]), max = std::max(max, x[j]);
  const float d = (max - min) / 31.f;
  const float id = d != 0.f ? 1.f / d : 0.f;
  put_f16(blk, d);
  put_f16(blk + 2, min);
  uint32_t qh = 0;
  for (int j = 0; j < kQk / 2; ++j) {
    const uint8_t xi0 = uint8_t((x[j] - min) * id + 0.5f);
    const uint8_t xi1 = uint8_t((x[j + kQk / 2] - min) * id + 0.5f);
    blk[8 + j] = uint8_t((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
    qh |= uint32_t((xi0 & 0x10u) >> 4) << j;
    qh |= uint32_t((xi1 & 0x10u) >> 4) << (j + kQk / 2);
  }
  std::memcpy(blk + 4, &qh, 4);
}

void iq4_nl(const float* x, uint8_t* blk) {
  const float d = put_f16(blk, signed_max(x, kQk) / -127.f);
  iq4_indices(x, d, blk + 2);
}

void q2_k(const float* x, uint8_t* blk) {
  uint8_t sc[16], m[16], q[kQkK];
  affine_sub_blocks(x, 16, 16, 3, 15, blk + 80, blk + 82, sc, m, q);
  for (int s = 0; s < 16; ++s) blk[s] = uint8_t(sc[s] | (m[s] << 4));
  uint8_t* qs = blk + 16;
  std::memset(qs, 0, 64);
  for (int e = 0; e < kQkK; ++e) {
    const int n = e / 128, r = e % 128, j = r / 32, half = (r % 32) / 16, l = r % 16;
    qs[n * 32 + half * 16 + l] |= uint8_t(q[e] << (2 * j));
  }
}

void q3_k(const float* x, uint8_t* blk) {
  int sc[16];
  const float d = symmetric_scales(x, 16, 16, 4.f, 31, blk + 108, sc);
  uint8_t* hm = blk;
  uint8_t* qs = blk + 32;
  uint8_t* packed = blk + 96;
  std::memset(blk, 0, 108);
  for (int i = 0; i < 4; ++i) {  // stored scale = sc + 32, 6 bits, as q3_k unpacks them
    const int s0 = sc[i] + 32, s1 = sc[4 + i] + 32, s2 = sc[8 + i] + 32, s3 = sc[12 + i] + 32;
    packed[i] = uint8_t((s0 & 0xF) | ((s2 & 0xF) << 4));
    packed[4 + i] = uint8_t((s1 & 0xF) | ((s3 & 0xF) << 4));
    packed[8 + i] = uint8_t((s0 >> 4) | ((s1 >> 4) << 2) | ((s2 >> 4) << 4) | ((s3 >> 4) << 6));
  }
  for (int e = 0; e < kQkK; ++e) {
    const float dl = d * float(sc[e / 16]);
    const int u = round_clamp(dl != 0.f ? x[e] / dl : 0.f, -4, 3) + 4;
    const int n = e / 128, r = e % 128, j = r / 32, l = r % 32;
    qs[n * 32 + l] |= uint8_t((u & 3) << (2 * j));
    if (u >= 4) hm[l] |= uint8_t(1 << (n * 4 + j));
  }
}

void q4_k(const float* x, uint8_t* blk) {
  uint8_t sc[8], m[8], q[kQkK];
  affine_sub_blocks(x, 8, 32, 15, 63, blk, blk + 2, sc, m, q);
  pack_scale_min_k4(sc, m, blk + 4);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l)
      blk[16 + 32 * c + l] = uint8_t(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
}

void q5_k(const float* x, uint8_t* blk) {
  uint8_t sc[8], m[8], q[kQkK];
  affine_sub_blocks(x, 8, 32, 31, 63, blk, blk + 2, sc, m, q);
  pack_scale_min_k4(sc, m, blk + 4);
  uint8_t* qh = blk + 16;
  std::memset(qh, 0, 32);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t a = q[64 * c + l], b = q[64 * c + 32 + l];
      blk[48 + 32 * c + l] = uint8_t((a & 0xF) | ((b & 0xF) << 4));
      qh[l] |= uint8_t(((a >> 4) << (2 * c)) | ((b >> 4) << (2 * c + 1)));
    }
  }
}

void q6_k(const float* x, uint8_t* blk) {
  int sc[16];
  const float d = symmetric_scales(x, 16, 16, 32.f, 127, blk + 208, sc);
  uint8_t* ql = blk;
  uint8_t* qh = blk + 128;
  std::memset(blk, 0, 208);
  for (int s = 0; s < 16; ++s) blk[192 + s] = uint8_t(int8_t(sc[s]));
  for (int e = 0; e < kQkK; ++e) {
    const float dl = d * float(sc[e / 16]);
    const int u = round_clamp(dl != 0.f ? x[e] / dl : 0.f, -32, 31) + 32;
    const int n = e / 128, k = (e % 128) / 32, l = e % 32;
    // k = 0..3: ql[l] low, ql[l + 32] low, ql[l] high, ql[l + 32] high.
    ql[64 * n + l + (k & 1) * 32] |= uint8_t((u & 0xF) << (k >> 1) * 4);
    qh[32 * n + l] |= uint8_t((u >> 4) << (2 * k));
  }
}

void iq4_xs(const float* x, uint8_t* blk) {
  int sc[8];
  const float d = symmetric_scales(x, 8, 32, 127.f, 31, blk, sc);
  uint16_t scales_h = 0;
  std::memset(blk + 4, 0, 4);
  for (int ib = 0; ib < 8; ++ib) {
    const int ls = sc[ib] + 32;
    blk[4 + ib / 2] |= uint8_t((ls & 0xF) << (4 * (ib % 2)));
    scales_h |= uint16_t((ls >> 4) << (2 * ib));
    iq4_indices(x + 32 * ib, d * float(sc[ib]), blk + 8 + 16 * ib);
  }
  blk[2] = uint8_t(scales_h & 0xFF);
  blk[3] = uint8_t(scales_h >> 8);
}

}  // namespace ringlm::quant_blocks
