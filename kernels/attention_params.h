// Parameters of the partial-attention primitive and of the LSE merge, shared
// by the CPU and CUDA implementations (plain structs, FlashAttention style).
//
// Partial attention: for every query row i and query head h (KV head
// g = h / (H_q / H_kv)), over the keys j with  k_pos[j] >= 0  and
// (!causal || k_pos[j] <= q_pos[i]):
//   s_j   = scale * <q[i,h,:], k[j,g,:]>
//   lse   = log(sum_j exp(s_j))
//   out   = sum_j exp(s_j - lse) * v[j,g,:]
// A row that sees no key (or whose q_pos < 0, i.e. padding) gets out = 0 and
// lse = -inf. Positions are global token positions, never local indices.
#pragma once

#include <cstdint>

namespace ringlm::kernels {

struct AttentionParams {
  const float* q = nullptr;        // [tq, hq, d]
  const int32_t* q_pos = nullptr;  // [tq]; < 0 marks a padding row
  const float* k = nullptr;        // [tk, hkv, d]
  const float* v = nullptr;        // [tk, hkv, d]
  const int32_t* k_pos = nullptr;  // [tk]; < 0 marks a padding key
  float* out = nullptr;            // [tq, hq, d]
  float* lse = nullptr;            // [tq, hq] natural-log LSE of the scaled scores
  int64_t tq = 0;
  int64_t tk = 0;
  int hq = 0;
  int hkv = 0;
  int d = 0;
  float scale = 0.f;  // usually 1/sqrt(d)
  bool causal = true;
};

// One block of keys for attention over several blocks (a paged KV cache):
// k, v [n, hkv, d] and their positions [n], same conventions as above.
// Attention over a list of blocks equals one call over their concatenation.
struct KeyBlock {
  const float* k = nullptr;
  const float* v = nullptr;
  const int32_t* pos = nullptr;
  int64_t n = 0;
};

// Merges a partial result (o, lse) into an accumulator (acc_out, acc_lse) in
// place, exactly (docs/context-parallelism.md section 2):
//   L = log(exp(acc_lse) + exp(lse));  acc_out = acc_out*exp(acc_lse-L) + o*exp(lse-L)
// -inf on either side contributes nothing; both -inf leaves out = 0, lse = -inf.
struct MergeParams {
  float* acc_out = nullptr;     // [rows, d]
  float* acc_lse = nullptr;     // [rows]
  const float* out = nullptr;   // [rows, d]
  const float* lse = nullptr;   // [rows]
  int64_t rows = 0;             // tokens * hq
  int d = 0;
};

}  // namespace ringlm::kernels
