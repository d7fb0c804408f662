// CpuBackend: the reference backend. f32 weights (dequantized at load) or,
// by choice, bf16 weights (half the memory; kernels/cpu/matmul_bf16.h) or
// 8-bit ones (kernels/cpu/matmul_q8.h), BLAS GEMMs (OpenBLAS), OpenMP-
// threaded kernels from kernels/cpu.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace ringlm {

// How a CpuBackend holds weight matrices (make_weight rounds f32 to it).
enum class CpuWeights : uint8_t { kF32, kBF16, kQ8 };

struct CpuBackendOptions {
  // OpenMP threads used by this backend's kernels (0 = OpenMP default). The
  // count applies to the calling thread, so several rank threads in one
  // process can each use their own share of the cores.
  int threads = 0;
  // f32 is the reference: bf16 (rounded to nearest even) and q8 move the
  // logits by about the rounding of the weights.
  CpuWeights weights = CpuWeights::kF32;
};

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& opts = {});

}  // namespace ringlm
