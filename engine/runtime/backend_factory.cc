#include "runtime/backend_factory.h"

#include "backend/cpu/cpu_backend.h"
#if RINGLM_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

namespace ringlm {

int rank_device(const EngineOptions& opts, int local_index) {
  if (opts.backend != "cuda") return -1;
#if RINGLM_HAVE_CUDA
  const int n = cuda_device_count();
  return n > 0 ? (opts.device + local_index) % n : opts.device;
#else
  return opts.device;
#endif
}

Result<std::unique_ptr<Backend>> make_backend(const EngineOptions& opts, int local_index,
                                              int threads) {
  const WeightType w = resolve_weight_type(opts.weight_type, opts.backend);
  if (opts.backend == "cpu") {
    const CpuWeights cw = w == WeightType::kBF16   ? CpuWeights::kBF16
                          : w == WeightType::kQ8_0 ? CpuWeights::kQ8
                                                   : CpuWeights::kF32;
    return make_cpu_backend(CpuBackendOptions{threads, cw});
  }
  if (opts.backend != "cuda")
    return InvalidArgument("unknown backend '" + opts.backend + "' (cpu or cuda)");
  if (w != WeightType::kBF16)
    return InvalidArgument(std::string("weight type ") + weight_type_name(w) +
                           " is not available on the cuda backend (its weights are bf16)");
#if RINGLM_HAVE_CUDA
  if (cuda_device_count() == 0) return Unavailable("backend cuda: no CUDA device is present");
  return make_cuda_backend(rank_device(opts, local_index));
#else
  return Unsupported("backend cuda: this build of ringlm has no CUDA support");
#endif
}

}  // namespace ringlm
