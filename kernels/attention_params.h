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
//
// K and V are stored as `kv` elements (f32, or bf16 for a bf16 KV cache:
// the upper 16 bits of the f32, rounded to nearest even); queries, outputs
// and the arithmetic are f32 either way.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringlm::kernels {

// Element type of K and V.
enum class KvType : uint8_t { kF32 = 0, kBF16 = 1 };

inline size_t kv_elem_bytes(KvType t) { return t == KvType::kBF16 ? 2 : 4; }
inline const char* kv_type_name(KvType t) { return t == KvType::kBF16 ? "bf16" : "f32"; }

// `base` advanced by `elems` K/V elements of type t.
inline const void* kv_advance(const void* base, int64_t elems, KvType t) {
  return static_cast<const char*>(base) + elems * int64_t(kv_elem_bytes(t));
}
inline void* kv_advance(void* base, int64_t elems, KvType t) {
  return static_cast<char*>(base) + elems * int64_t(kv_elem_bytes(t));
}

struct AttentionParams {
  const float* q = nullptr;        // [tq, hq, d]
  const int32_t* q_pos = nullptr;  // [tq]; < 0 marks a padding row
  const void* k = nullptr;         // [tk, hkv, d] of `kv`
  const void* v = nullptr;         // [tk, hkv, d] of `kv`
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
  KvType kv = KvType::kF32;
  // Optional host copies of q_pos [tq] and k_pos [tk] (nullptr: not known).
  // Where given they must equal the positions above; a device backend may
  // plan from them instead of reading its positions back (no host sync).
  const int32_t* q_pos_host = nullptr;
  const int32_t* k_pos_host = nullptr;
};

// One block of keys for attention over several blocks (a paged KV cache):
// k, v [n, hkv, d] (of the AttentionParams' kv type) and their positions
// [n], same conventions as above. Attention over a list of blocks equals one
// call over their concatenation.
struct KeyBlock {
  const void* k = nullptr;
  const void* v = nullptr;
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
