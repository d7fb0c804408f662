// Block decoders behind kernels/cpu/dequantize.h: one block of each GGML
// quantized type ringlm reads to f32 (layouts as in ggml-common.h, little
// endian). Each decodes the same values, in the same float operation order,
// as ggml's dequantize_row_* reference functions.
#pragma once

#include <cstdint>

namespace ringlm::kernels::cpu::blocks {

inline constexpr int kQk = 32;   // elements per block of the 32-element types
inline constexpr int kQkK = 256; // elements per super-block of the K-quants and IQ4_XS

// The 16 values of IQ4_NL and IQ4_XS (kvalues_iq4nl).
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

void q8_0(const uint8_t* blk, float* y);
void q4_0(const uint8_t* blk, float* y);
void q4_1(const uint8_t* blk, float* y);
void q5_0(const uint8_t* blk, float* y);
void q5_1(const uint8_t* blk, float* y);
void iq4_nl(const uint8_t* blk, float* y);
void q2_k(const uint8_t* blk, float* y);
void q3_k(const uint8_t* blk, float* y);
void q4_k(const uint8_t* blk, float* y);
void q5_k(const uint8_t* blk, float* y);
void q6_k(const uint8_t* blk, float* y);
void iq4_xs(const uint8_t* blk, float* y);

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block's
// 12 packed scale bytes (get_scale_min_k4).
inline void scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

}  // namespace ringlm::kernels::cpu::blocks
