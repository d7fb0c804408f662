// Block encoders behind gguf_quantize.h for the types without a quantizer
// there: one block of f32 values to its GGML layout (kernels/cpu/
// dequantize_blocks.cc lists the layouts).
//
// Q5_0 and Q5_1 are ggml's round-to-nearest reference quantizers. The
// super-block types (Q2_K to Q6_K, IQ4_XS) and IQ4_NL are simpler than
// ggml's, which search for the scales of least error: each sub-block's
// scale is rounded up to the next step of the super-block's 4-, 6- or 8-bit
// scale grid, so no value falls outside its sub-block's range and every
// value is within about one quantization step of its input. They make valid
// files of every type for tests and tools, not files as good as ggml's.
#pragma once

#include <cstdint>

namespace ringlm::quant_blocks {

void q5_0(const float* x, uint8_t* blk);
void q5_1(const float* x, uint8_t* blk);
void iq4_nl(const float* x, uint8_t* blk);
void q2_k(const float* x, uint8_t* blk);
void q3_k(const float* x, uint8_t* blk);
void q4_k(const float* x, uint8_t* blk);
void q5_k(const float* x, uint8_t* blk);
void q6_k(const float* x, uint8_t* blk);
void iq4_xs(const float* x, uint8_t* blk);

}  // namespace ringlm::quant_blocks
