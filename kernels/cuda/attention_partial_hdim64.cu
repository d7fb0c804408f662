// One instantiation per file (nvcc compiles them in parallel): head dim 64.
#include "cuda/attention_mma.cuh"

namespace ringlm::kernels::cuda::attn {

template cudaError_t launch_mma<64>(const AttentionBf16Params& p, const TileMeta* meta,
                                    const int32_t* kpad, int ntiles, cudaStream_t stream);

}  // namespace ringlm::kernels::cuda::attn
