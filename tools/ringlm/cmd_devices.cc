// `ringlm devices`: what this build and this machine offer the engine: the
// backends compiled in, the CUDA devices, NCCL, and whether cuDNN's fused
// attention can load (and why not).
#include <cstdio>
#include <string>

#include "commands.h"
#include "engine_flags.h"
#include "json_writer.h"
#if RINGLM_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "backend/cuda/cuda_backend.h"
#endif
#if RINGLM_HAVE_CUDNN
#include "backend/cuda/cudnn/cudnn_attention.h"
#endif

namespace ringlm::cli {

int run_devices(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, 2, {}, {"json"});
  if (!args.ok()) return fail(args.status());
  bool cuda_built = false, nccl_built = false, cudnn_built = false;
  int devices = 0;
  std::string names, cudnn = "not built";
#if RINGLM_HAVE_CUDA
  cuda_built = true;
  nccl_built = RINGLM_HAVE_NCCL;
  devices = cuda_device_count();
  for (int d = 0; d < devices; ++d) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, d) != cudaSuccess) {
      (void)cudaGetLastError();
      continue;
    }
    names += (names.empty() ? "" : "; ") + std::to_string(d) + ": " + prop.name + " (sm_" +
             std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
             std::to_string(prop.totalGlobalMem >> 20) + " MiB)";
  }
#endif
#if RINGLM_HAVE_CUDNN
  cudnn_built = true;
  const Status loaded = cudnn_load();
  cudnn = loaded.ok() ? "loaded, version " + std::to_string(cudnn_loaded_version())
                      : loaded.ToString();
#endif
  JsonObject o;
  o.boolean("cuda_built", cuda_built)
      .boolean("nccl_built", nccl_built)
      .boolean("cudnn_attention_built", cudnn_built)
      .integer("cuda_devices", devices)
      .str("cuda_device_names", names)
      .str("cudnn", cudnn);
  if (args->has("json")) {
    std::printf("%s\n", o.str().c_str());
  } else {
    std::printf("backends: cpu%s\n", cuda_built ? ", cuda" : "");
    std::printf("cuda devices: %d%s%s\n", devices, names.empty() ? "" : " (", names.empty() ? "" : (names + ")").c_str());
    std::printf("nccl: %s\n", nccl_built ? "built" : "not built");
    std::printf("cudnn attention: %s\n", cudnn.c_str());
  }
  return 0;
}

}  // namespace ringlm::cli
