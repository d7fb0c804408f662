// CpuBackend: the reference backend. f32 weights (dequantized at load) or,
// by choice, bf16 weights (half the memory; kernels/cpu/matmul_bf16.h), BLAS
// GEMMs (OpenBLAS), OpenMP-threaded kernels from kernels/cpu.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace ringlm {

struct CpuBackendOptions {
  // OpenMP threads used by this backend's kernels (0 = OpenMP default). The
  // count applies to the calling thread, so several rank threads in one
  // process can each use their own share of the cores.
  int threads = 0;
  // Element type the weight matrices are held in (make_weight rounds f32 to
  // bf16, to nearest even). f32 is the reference: bf16 moves logits by
  // about the rounding of the weights.
  bool bf16_weights = false;
};

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& opts = {});

}  // namespace ringlm
