// Exact merge of partial attention results by their LSE (CPU).
#pragma once

#include "attention_params.h"

namespace ringlm::kernels::cpu {

void merge_partials(const MergeParams& p);

}  // namespace ringlm::kernels::cpu
