// The bf16 tensor-core attention kernel (FlashAttention-2 forward with LSE),
// templated on the head dim. Instantiated once per head dim in
// attention_partial_hdim{64,128}.cu; dispatched from attention_partial.cu.
//
// CTA = 128 query rows of one query head; warp w owns rows [16w, 16w + 16).
// For every visible 64-key tile of the head's KV group:
//   S[16 x 64]  = Q[16 x d] K^T          mma.m16n8k16, Q fragments kept in registers
//   masking     (only in tiles that are not fully visible to all 128 rows)
//   online softmax in the log2 domain, P rounded to bf16 in registers
//   O[16 x d]  += P[16 x 64] V[64 x d]   V read with ldmatrix.trans
// K and V tiles are single-buffered and overlapped the FA2 way: V(i) loads
// while S(i) is computed, K(i+1) loads while softmax(i) and P V(i) run.
//
// Tile skipping uses only positions. A pre-pass (attention_partial.cu) stores,
// per 64-key tile, the min and max valid key position and whether every key
// is valid; a CTA knows the range of its rows' effective positions
// qeff = (q_pos < 0 ? -1 : causal ? q_pos : INT_MAX). A tile is
//   skipped  when it has no valid key or kmin > max(qeff),
//   full     when all keys are valid and kmax <= min(qeff) (no mask needed),
//   masked   otherwise (key j visible to row i iff 0 <= k_pos[j] <= qeff[i]).
// Visible tiles are compacted, in order, into a shared-memory list 256 tiles
// at a time, so skipped tiles cost one coalesced read, not a loop iteration.
// List entries are >= 0; -1 means no further tile.
#pragma once

#include <climits>
#include <math_constants.h>

#include "cuda/attention_mma.h"
#include "cuda/common.cuh"

namespace ringlm::kernels::cuda::attn {

// ---- PTX wrappers (sm_80+) ----

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global -> shared copy; zero-fills the destination when !pred.
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, bool pred) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(pred ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// c[16x8] += a[16x16] * b[16x8], bf16 inputs, f32 accumulators.
__device__ __forceinline__ void mma_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
      "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Shared-memory layout of one CTA (dynamic shared memory).
template <int D>
struct Smem {
  uint16_t q[kBr * D];  // [128, D] bf16, swizzled
  uint16_t k[kBc * D];  // [64, D]
  uint16_t v[kBc * D];  // [64, D]
  int32_t kpos[2][kBc];  // key positions of the current / next tile
  int32_t qeff[kBr];
  int32_t list[kListCap];  // visible tiles: index | kFullBit when fully visible
  int32_t warp_count[kWarps];
  int32_t red[2][kWarps];
};

// Element offset of 8-element chunk `c` of row `r` in a [rows, D] bf16 tile.
// Chunks are XOR-swizzled by (r & 7) so that the 8 row addresses of an
// ldmatrix (same logical chunk, 8 consecutive rows) hit 8 different 16-byte
// bank groups. D * 2 bytes is a multiple of 128, so rows start bank-aligned.
template <int D>
__device__ __forceinline__ int swz(int r, int c) {
  return r * D + ((c ^ (r & 7)) << 3);
}

// Copies rows [0, rows) of a [rows, D] tile whose row i starts at
// g + i * stride (elements) into swizzled shared memory; rows >= valid are
// zero-filled. Caller commits the group.
template <int D, int kRows>
__device__ __forceinline__ void load_tile(uint16_t* s, const uint16_t* g, int64_t stride,
                                          int valid) {
  constexpr int kChunks = D / 8;
#pragma unroll
  for (int i = threadIdx.x; i < kRows * kChunks; i += kThreads) {
    const int r = i / kChunks, c = i % kChunks;
    const bool ok = r < valid;
    const uint16_t* src = ok ? g + r * stride + c * 8 : g;
    cp_async_16(smem_addr(s + swz<D>(r, c)), src, ok);
  }
}

// Classifies tiles [base, base + 256) and writes the visible ones, in order,
// to s.list. Returns how many. Called by every thread of the CTA.
template <int D>
__device__ __forceinline__ int build_list(Smem<D>& s, const TileMeta* __restrict__ meta,
                                          int ntiles, int base, int qmin, int qmax) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // the previous list and counts are no longer read
  const int t = base + int(threadIdx.x);
  bool vis = false, full = false;
  if (t < ntiles) {
    const TileMeta m = meta[t];
    vis = (m.z & 1) && m.x <= qmax;
    full = (m.z & 2) && m.y <= qmin;
  }
  const unsigned ballot = __ballot_sync(kFullMask, vis);
  if (lane == 0) s.warp_count[warp] = __popc(ballot);
  __syncthreads();
  int offset = 0, total = 0;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    const int c = s.warp_count[w];
    offset += w < warp ? c : 0;
    total += c;
  }
  if (vis) {
    const int idx = offset + __popc(ballot & ((1u << lane) - 1u));
    s.list[idx] = full ? (t | kFullBit) : t;
  }
  __syncthreads();
  return total;
}

template <int D>
__global__ void __launch_bounds__(kThreads, D <= 64 ? 2 : 1)
    attention_mma_kernel(const AttentionBf16Params p, const TileMeta* __restrict__ meta,
                         const int32_t* __restrict__ kpad, int ntiles) {
  static_assert(D % 64 == 0, "head dim must be a multiple of 64 (8 chunks of 8 for the swizzle)");
  constexpr int kKSteps = D / 16;   // k-steps of S = Q K^T
  constexpr int kDBlocks = D / 8;   // n-blocks of O
  extern __shared__ __align__(128) unsigned char smem_raw[];
  Smem<D>& s = *reinterpret_cast<Smem<D>*>(smem_raw);

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int h = blockIdx.x;                          // query head
  const int qb = int(gridDim.y) - 1 - int(blockIdx.y);  // late (heavier, causal) blocks first
  const int kvh = h / (p.hq / p.hkv);                // GQA: the head's KV head
  const int64_t q0 = int64_t(qb) * kBr;
  const int nq = int(min(int64_t(kBr), p.tq - q0));
  const int64_t q_stride = int64_t(p.hq) * D;    // elements between query rows
  const int64_t kv_stride = int64_t(p.hkv) * D;  // elements between key rows

  // Effective positions of the CTA's rows and their range.
  int qeff = -1;
  if (tid < kBr) {
    if (tid < nq) {
      const int32_t qp = p.q_pos[q0 + tid];
      qeff = qp < 0 ? -1 : (p.causal ? qp : INT_MAX);
    }
    s.qeff[tid] = qeff;
    const int mn = __reduce_min_sync(kFullMask, qeff), mx = __reduce_max_sync(kFullMask, qeff);
    if (lane == 0) s.red[0][warp] = mn, s.red[1][warp] = mx;
  }
  __syncthreads();
  int qmin = INT_MAX, qmax = INT_MIN;
#pragma unroll
  for (int w = 0; w < kBr / 32; ++w) qmin = min(qmin, s.red[0][w]), qmax = max(qmax, s.red[1][w]);

  // Q tile [128, D] (group 0).
  load_tile<D, kBr>(s.q, p.q + (q0 * p.hq + h) * D, q_stride, nq);
  cp_async_commit();

  // Visible-tile cursor (uniform across the CTA).
  int list_base = 0, list_count = 0, list_pos = 0;
  auto next_tile = [&]() -> int {
    while (list_pos == list_count) {
      if (list_base >= ntiles || qmax < 0) return -1;
      list_count = build_list<D>(s, meta, ntiles, list_base, qmin, qmax);
      list_base += kListCap;
      list_pos = 0;
    }
    return s.list[list_pos++];
  };
  auto load_k = [&](int entry, int buf) {
    const int t = entry & (kFullBit - 1);
    const int64_t k0 = int64_t(t) * kBc;
    load_tile<D, kBc>(s.k, p.k + (k0 * p.hkv + kvh) * D, kv_stride, int(min(int64_t(kBc), p.tk - k0)));
    if (tid < kBc / 4) cp_async_16(smem_addr(&s.kpos[buf][tid * 4]), kpad + k0 + tid * 4, true);
  };
  auto load_v = [&](int entry) {
    const int t = entry & (kFullBit - 1);
    const int64_t k0 = int64_t(t) * kBc;
    load_tile<D, kBc>(s.v, p.v + (k0 * p.hkv + kvh) * D, kv_stride, int(min(int64_t(kBc), p.tk - k0)));
  };

  int entry = next_tile();
  if (entry >= 0) {
    load_k(entry, 0);  // group 1
    cp_async_commit();
    cp_async_wait<1>();
  } else {
    cp_async_wait<0>();
  }
  __syncthreads();

  // Q fragments: A operand of S = Q K^T, rows 16*warp .. +15, all of D.
  uint32_t qf[kKSteps][4];
#pragma unroll
  for (int kk = 0; kk < kKSteps; ++kk)
    ldmatrix_x4(qf[kk], smem_addr(s.q + swz<D>(warp * 16 + (lane & 15), kk * 2 + (lane >> 4))));

  // This thread's two rows within the warp's 16 (accumulator layout of mma):
  // r = 0 -> row lane/4, r = 1 -> row lane/4 + 8.
  const int qe[2] = {s.qeff[warp * 16 + (lane >> 2)], s.qeff[warp * 16 + (lane >> 2) + 8]};
  float o[kDBlocks][4];
#pragma unroll
  for (int i = 0; i < kDBlocks; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float m[2] = {-CUDART_INF_F, -CUDART_INF_F};  // running max, log2 domain
  float l[2] = {0.f, 0.f};                      // running sum (this thread's columns)
  const float scale_log2 = p.scale * 1.4426950408889634f;

  int buf = 0;
  while (entry >= 0) {
    load_v(entry);
    cp_async_commit();
    cp_async_wait<1>();  // K(entry) and its positions have landed
    __syncthreads();

    // S = Q K^T: 8 n-blocks of 8 keys.
    float sc[8][4];
#pragma unroll
    for (int i = 0; i < 8; ++i) sc[i][0] = sc[i][1] = sc[i][2] = sc[i][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < kKSteps; ++kk) {
#pragma unroll
      for (int nb2 = 0; nb2 < 4; ++nb2) {
        // Matrices: keys 16*nb2 + [0,8) / [8,16) x d chunk 2kk / 2kk+1 ->
        // (b0, b1) of n-block 2*nb2, then (b0, b1) of n-block 2*nb2 + 1.
        uint32_t b[4];
        const int key = nb2 * 16 + (lane & 7) + ((lane >> 4) << 3);
        ldmatrix_x4(b, smem_addr(s.k + swz<D>(key, kk * 2 + ((lane >> 3) & 1))));
        mma_bf16(sc[2 * nb2], qf[kk], b[0], b[1]);
        mma_bf16(sc[2 * nb2 + 1], qf[kk], b[2], b[3]);
      }
    }
    __syncthreads();  // every warp is done with s.k

    const bool full = (entry & kFullBit) != 0;
    const int next = next_tile();
    if (next >= 0) {
      load_k(next, buf ^ 1);
      cp_async_commit();
    }

    // Scale to the log2 domain and mask.
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) sc[i][e] *= scale_log2;
    if (!full) {
      const int32_t* kp = s.kpos[buf];
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const int c = i * 8 + (lane & 3) * 2;
        const int k0 = kp[c], k1 = kp[c + 1];
        if (!(k0 >= 0 && k0 <= qe[0])) sc[i][0] = -CUDART_INF_F;
        if (!(k1 >= 0 && k1 <= qe[0])) sc[i][1] = -CUDART_INF_F;
        if (!(k0 >= 0 && k0 <= qe[1])) sc[i][2] = -CUDART_INF_F;
        if (!(k1 >= 0 && k1 <= qe[1])) sc[i][3] = -CUDART_INF_F;
      }
    }

    // Online softmax per row; the 4 threads of a quad share a row.
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = -CUDART_INF_F;
#pragma unroll
      for (int i = 0; i < 8; ++i) mx = fmaxf(mx, fmaxf(sc[i][2 * r], sc[i][2 * r + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, 2));
      const float m_new = fmaxf(m[r], mx);
      const float m_use = m_new == -CUDART_INF_F ? 0.f : m_new;  // nothing visible yet
      const float corr = exp2f(m[r] - m_use);
      m[r] = m_new;
      float rs = 0.f;
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        sc[i][2 * r] = exp2f(sc[i][2 * r] - m_use);
        sc[i][2 * r + 1] = exp2f(sc[i][2 * r + 1] - m_use);
        rs += sc[i][2 * r] + sc[i][2 * r + 1];
      }
      l[r] = l[r] * corr + rs;
#pragma unroll
      for (int i = 0; i < kDBlocks; ++i) o[i][2 * r] *= corr, o[i][2 * r + 1] *= corr;
    }

    if (next >= 0) cp_async_wait<1>(); else cp_async_wait<0>();  // V(entry) has landed
    __syncthreads();

    // O += P V: the S accumulators of n-blocks 2kt, 2kt+1 are the A fragment
    // of k-step kt (keys 16kt .. 16kt+15).
#pragma unroll
    for (int kt = 0; kt < 4; ++kt) {
      const uint32_t a[4] = {pack_bf16x2(sc[2 * kt][0], sc[2 * kt][1]),
                             pack_bf16x2(sc[2 * kt][2], sc[2 * kt][3]),
                             pack_bf16x2(sc[2 * kt + 1][0], sc[2 * kt + 1][1]),
                             pack_bf16x2(sc[2 * kt + 1][2], sc[2 * kt + 1][3])};
#pragma unroll
      for (int nd2 = 0; nd2 < kDBlocks / 2; ++nd2) {
        // Matrices (transposed): keys 16kt + [0,8) / [8,16) x d chunk 2nd2, then
        // the same keys x chunk 2nd2 + 1 -> (b0, b1) of d-blocks 2nd2, 2nd2 + 1.
        uint32_t b[4];
        const int key = kt * 16 + (lane & 7) + (((lane >> 3) & 1) << 3);
        ldmatrix_x4_trans(b, smem_addr(s.v + swz<D>(key, nd2 * 2 + (lane >> 4))));
        mma_bf16(o[2 * nd2], a, b[0], b[1]);
        mma_bf16(o[2 * nd2 + 1], a, b[2], b[3]);
      }
    }
    __syncthreads();  // every warp is done with s.v and s.kpos[buf]

    entry = next;
    buf ^= 1;
  }

  // Normalise and write out [tq, hq, D] and lse [tq, hq].
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float lt = l[r];
    lt += __shfl_xor_sync(kFullMask, lt, 1);
    lt += __shfl_xor_sync(kFullMask, lt, 2);
    const int row_in_cta = warp * 16 + (lane >> 2) + 8 * r;
    if (row_in_cta >= nq) continue;
    const int64_t row = q0 + row_in_cta;
    const bool live = !(lt <= 0.f);  // a NaN score poisons the row, as in kernels/cpu
    const float inv = live ? 1.f / lt : 0.f;
    float* out = p.out + (row * p.hq + h) * D;  // [D]
#pragma unroll
    for (int i = 0; i < kDBlocks; ++i) {
      const int c = i * 8 + (lane & 3) * 2;
      *reinterpret_cast<float2*>(out + c) = make_float2(live ? o[i][2 * r] * inv : 0.f,
                                                        live ? o[i][2 * r + 1] * inv : 0.f);
    }
    if ((lane & 3) == 0)
      p.lse[row * p.hq + h] = live ? (m[r] + log2f(lt)) * 0.6931471805599453f : -CUDART_INF_F;
  }
}

template <int D>
cudaError_t launch_mma(const AttentionBf16Params& p, const TileMeta* meta, const int32_t* kpad,
                       int ntiles, cudaStream_t stream) {
  const int64_t qblocks = ceil_div(p.tq, kBr);
  if (qblocks > 65535 || p.hq > 65535) return cudaErrorInvalidValue;
  const int smem = int(sizeof(Smem<D>));
  cudaError_t e = cudaFuncSetAttribute(attention_mma_kernel<D>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (e != cudaSuccess) return e;
  attention_mma_kernel<D><<<dim3(unsigned(p.hq), unsigned(qblocks)), kThreads, smem, stream>>>(
      p, meta, kpad, ntiles);
  return cudaGetLastError();
}

}  // namespace ringlm::kernels::cuda::attn
