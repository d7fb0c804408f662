#pragma once

#include <cstdint>

namespace ringlm::kernels::cpu {

// out[i, :] = table[ids[i], :]   table [vocab, dim] f32. Ids are validated by the caller.
void embedding(const float* table, const int32_t* ids, float* out, int64_t n, int64_t dim);

}  // namespace ringlm::kernels::cpu
