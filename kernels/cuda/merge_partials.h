// Exact LSE merge of a partial attention result into an accumulator.
// CPU reference: kernels/cpu/merge_partials.h; definition in MergeParams
// (kernels/attention_params.h). All pointers are device memory.
#pragma once

#include <cuda_runtime_api.h>

#include "attention_params.h"

namespace ringlm::kernels::cuda {

cudaError_t merge_partials(const MergeParams& p, cudaStream_t stream);

}  // namespace ringlm::kernels::cuda
