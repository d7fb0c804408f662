// Sampling helpers over logits rows: greedy argmax and a temperature softmax,
// so a sampler can avoid copying a whole vocabulary row to the host.
// Reference: tests/gpu/gpu_sampling_test.cc (a plain loop per row). These
// are building blocks, not the engine's Sampler: Sampler::sample refuses a
// NaN or +inf logit and a row of only -inf, where argmax below skips NaN and
// returns an index for the others.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ringlm::kernels::cuda {

// out[r] = argmax_j logits[r, j]   logits: [rows, n] f32; out: [rows] int32
// (device). Ties go to the smallest index; NaN entries are ignored; a row of
// only NaN (or n == 0) gives -1.
cudaError_t argmax(const float* logits, int32_t* out, int64_t rows, int64_t n,
                   cudaStream_t stream);

// y[r, :] = softmax(x[r, :] / temperature)   x, y: [rows, n] f32 (y may alias
// x); temperature > 0. Computed as exp(x/T - max) / sum.
cudaError_t softmax(const float* x, float* y, int64_t rows, int64_t n, float temperature,
                    cudaStream_t stream);

}  // namespace ringlm::kernels::cuda
