// Position-masked partial attention with LSE output (CPU reference, OpenMP threaded).
#pragma once

#include "attention_params.h"

namespace ringlm::kernels::cpu {

// See AttentionParams for the exact definition. Threads over (query row, head).
void attention_partial(const AttentionParams& p);

}  // namespace ringlm::kernels::cpu
