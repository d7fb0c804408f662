// GGML block layouts (ggml-common.h), the fields in storage order:
//   Q8_0   { f16 d; i8 qs[32]; }                                 34 bytes / 32
//   Q4_0   { f16 d; u8 qs[16]; }                                 18 bytes / 32
//   Q4_1   { f16 d; f16 m; u8 qs[16]; }                          20 bytes / 32
//   Q5_0   { f16 d; u8 qh[4]; u8 qs[16]; }                       22 bytes / 32
//   Q5_1   { f16 d; f16 m; u8 qh[4]; u8 qs[16]; }                24 bytes / 32
//   IQ4_NL { f16 d; u8 qs[16]; }                                 18 bytes / 32
//   Q2_K   { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin; }        84 bytes / 256
//   Q3_K   { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d; }    110 bytes / 256
//   Q4_K   { f16 d; f16 dmin; u8 scales[12]; u8 qs[128]; }       144 bytes / 256
//   Q5_K   { f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]; } 176 / 256
//   Q6_K   { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d; }      210 bytes / 256
//   IQ4_XS { f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128]; }  136 bytes / 256
#include "cpu/dequantize_blocks.h"

#include <cstring>

#include "cpu/dequantize.h"

namespace ringlm::kernels::cpu::blocks {
namespace {

inline float f16_at(const uint8_t* p) { return fp16_to_fp32(uint16_t(p[0] | (p[1] << 8))); }

inline uint32_t u32_at(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // little-endian hosts only
}

// Scale and min of sub-blocks is and is + 1 of a Q4_K / Q5_K block (each
// 32 values): d * scale, dmin * min.
struct SubScales {
  float d1, m1, d2, m2;
};
SubScales sub_scales(int is, const uint8_t* scales, float d, float min) {
  uint8_t sc, m;
  SubScales s;
  scale_min_k4(is, scales, &sc, &m);
  s.d1 = d * float(sc), s.m1 = min * float(m);
  scale_min_k4(is + 1, scales, &sc, &m);
  s.d2 = d * float(sc), s.m2 = min * float(m);
  return s;
}

}  // namespace

void q8_0(const uint8_t* blk, float* y) {
  const float d = f16_at(blk);
  const int8_t* qs = reinterpret_cast<const int8_t*>(blk + 2);
  for (int j = 0; j < kQk; ++j) y[j] = qs[j] * d;
}

void q4_0(const uint8_t* blk, float* y) {
  const float d = f16_at(blk);
  const uint8_t* qs = blk + 2;
  for (int j = 0; j < kQk / 2; ++j) {
    y[j] = ((qs[j] & 0x0F) - 8) * d;
    y[j + kQk / 2] = ((qs[j] >> 4) - 8) * d;
  }
}

void q4_1(const uint8_t* blk, float* y) {
  const float d = f16_at(blk);
  const float m = f16_at(blk + 2);
  const uint8_t* qs = blk + 4;
  for (int j = 0; j < kQk / 2; ++j) {
    y[j] = (qs[j] & 0x0F) * d + m;
    y[j + kQk / 2] = (qs[j] >> 4) * d + m;
  }
}

void q5_0(const uint8_t* blk, float* y) {
  const float d = f16_at(blk);
  const uint32_t qh = u32_at(blk + 2);
  const uint8_t* qs = blk + 6;
  for (int j = 0; j < kQk / 2; ++j) {
    const uint8_t xh0 = uint8_t(((qh >> j) << 4) & 0x10);
    const uint8_t xh1 = uint8_t((qh >> (j + 12)) & 0x10);
    const int32_t x0 = ((qs[j] & 0x0F) | xh0) - 16;
    const int32_t x1 = ((qs[j] >> 4) | xh1) - 16;
    y[j] = float(x0) * d;
    y[j + kQk / 2] = float(x1) * d;
  }
}

void q5_1(const uint8_t* blk, float* y) {
  const float d = f16_at(blk);
  const float m = f16_at(blk + 2);
  const uint32_t qh = u32_at(blk + 4);
  const uint8_t* qs = blk + 8;
  for (int j = 0; j < kQk / 2; ++j) {
    const uint8_t xh0 = uint8_t(((qh >> j) << 4) & 0x10);
    const uint8_t xh1 = uint8_t((qh >> (j + 12)) & 0x10);
    const int x0 = (qs[j] & 0x0F) | xh0;
    const int x1 = (qs[j] >> 4) | xh1;
    y[j] = float(x0) * d + m;
    y[j + kQk / 2] = float(x1) * d + m;
  }
}

void iq4_nl(const uint8_t* blk, float* y) {
  const float d = f16_at(blk);
  const uint8_t* qs = blk + 2;
  for (int j = 0; j < kQk / 2; ++j) {
    y[j] = d * float(kIq4nlValues[qs[j] & 0xF]);
    y[j + kQk / 2] = d * float(kIq4nlValues[qs[j] >> 4]);
  }
}

void q2_k(const uint8_t* blk, float* y) {
  const uint8_t* scales = blk;
  const uint8_t* q = blk + 16;
  const float d = f16_at(blk + 80);
  const float min = f16_at(blk + 82);
  int is = 0;
  for (int n = 0; n < kQkK; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      for (int half = 0; half < 2; ++half) {
        const uint8_t sc = scales[is++];
        const float dl = d * float(sc & 0xF), ml = min * float(sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * float((q[l + 16 * half] >> shift) & 3) - ml;
      }
      shift += 2;
    }
    q += 32;
  }
}

void q3_k(const uint8_t* blk, float* y) {
  const uint8_t* hm = blk;
  const uint8_t* q = blk + 32;
  const float d_all = f16_at(blk + 108);
  // The 16 6-bit scales, unpacked from 12 bytes as ggml does.
  constexpr uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  uint32_t aux[4];
  std::memcpy(aux, blk + 96, 12);
  const uint32_t tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
  aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
  aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
  aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
  int8_t scales[16];
  std::memcpy(scales, aux, 16);
  int is = 0;
  uint8_t m = 1;
  for (int n = 0; n < kQkK; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      for (int half = 0; half < 2; ++half) {
        const float dl = d_all * float(scales[is++] - 32);
        for (int l = 16 * half; l < 16 * half + 16; ++l) {
          const int v = int((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4);
          *y++ = dl * float(v);
        }
      }
      shift += 2;
      m = uint8_t(m << 1);
    }
    q += 32;
  }
}

void q4_k(const uint8_t* blk, float* y) {
  const float d = f16_at(blk);
  const float min = f16_at(blk + 2);
  const uint8_t* scales = blk + 4;
  const uint8_t* q = blk + 16;
  for (int is = 0; is < 8; is += 2) {
    const SubScales s = sub_scales(is, scales, d, min);
    for (int l = 0; l < 32; ++l) *y++ = s.d1 * float(q[l] & 0xF) - s.m1;
    for (int l = 0; l < 32; ++l) *y++ = s.d2 * float(q[l] >> 4) - s.m2;
    q += 32;
  }
}

void q5_k(const uint8_t* blk, float* y) {
  const float d = f16_at(blk);
  const float min = f16_at(blk + 2);
  const uint8_t* scales = blk + 4;
  const uint8_t* qh = blk + 16;
  const uint8_t* ql = blk + 48;
  uint8_t u1 = 1, u2 = 2;
  for (int is = 0; is < 8; is += 2) {
    const SubScales s = sub_scales(is, scales, d, min);
    for (int l = 0; l < 32; ++l) *y++ = s.d1 * float((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - s.m1;
    for (int l = 0; l < 32; ++l) *y++ = s.d2 * float((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - s.m2;
    ql += 32;
    u1 = uint8_t(u1 << 2);
    u2 = uint8_t(u2 << 2);
  }
}

void q6_k(const uint8_t* blk, float* y) {
  const uint8_t* ql = blk;
  const uint8_t* qh = blk + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192);
  const float d = f16_at(blk + 208);
  for (int n = 0; n < kQkK; n += 128) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = int((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = int((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l + 0] = d * float(sc[is + 0]) * float(q1);
      y[l + 32] = d * float(sc[is + 2]) * float(q2);
      y[l + 64] = d * float(sc[is + 4]) * float(q3);
      y[l + 96] = d * float(sc[is + 6]) * float(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

void iq4_xs(const uint8_t* blk, float* y) {
  const float d = f16_at(blk);
  const uint16_t scales_h = uint16_t(blk[2] | (blk[3] << 8));
  const uint8_t* scales_l = blk + 4;
  const uint8_t* qs = blk + 8;
  for (int ib = 0; ib < kQkK / 32; ++ib) {
    const int ls = ((scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) | (((scales_h >> 2 * ib) & 3) << 4);
    const float dl = d * float(ls - 32);
    for (int j = 0; j < 16; ++j) {
      y[j] = dl * float(kIq4nlValues[qs[j] & 0xF]);
      y[j + 16] = dl * float(kIq4nlValues[qs[j] >> 4]);
    }
    y += 32;
    qs += 16;
  }
}

}  // namespace ringlm::kernels::cpu::blocks
