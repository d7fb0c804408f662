// CpuBackend: the reference backend. f32 weights (dequantized at load), BLAS
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
};

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& opts = {});

}  // namespace ringlm
