// The grouped variant of the generic f32 attention path (AttentionPath::kGrouped).
//
// attention_generic_kernel runs one warp per (query row, query head, key
// split) and walks its keys one at a time: per key a K row load, a warp-wide
// dot product and an online-softmax update, each waiting on the last. Under
// grouped-query attention it also reads every K and V row once per query
// head. Decode at long context is bound by that chain, not by the reads
// (an H100 reached 457 GB/s of bf16 K+V at 128K keys).
//
// This kernel runs one warp per (query row, KV head, chunk of up to
// kGroupHeads of that KV head's query heads, key split) and takes its keys
// 32 at a time (a tile):
//  - scores: lane j computes the chunk's dot products for key j of the tile,
//    reading that key's K row whole (16-byte loads where the layout allows),
//    against the chunk's query rows in shared memory; the 32 rows load at
//    once instead of one after another.
//  - softmax: per head, one warp max and one warp sum per tile rescale the
//    running (m, l) and accumulators, as the online softmax does per key.
//  - values: lanes split each V row into 8-element slices (32 * NJ / 8 lanes
//    a row, so 4, 2 or 1 rows per step), several rows in flight per lane; at
//    the end the lanes holding the same slice of different rows add up.
// Each K and V row is read once per chunk. Per head it computes what the
// generic kernel computes (masking by position, -inf scores weighing 0, a NaN
// score poisoning its row), up to float rounding, and it writes its results
// where the generic kernel does, so the split combine is shared.
//
// Included by attention_partial.cu only.
#pragma once

#include <math_constants.h>

#include <climits>

#include "attention_params.h"
#include "cuda/attention_split_keys.cuh"
#include "cuda/common.cuh"

namespace ringlm::kernels::cuda::attn {

constexpr int kGroupHeads = 4;    // query heads one warp carries
constexpr int kGroupedWarps = 4;  // warps per block

// Chunks of at most kGroupHeads query heads per KV head.
inline int group_chunks(int hq, int hkv) {
  const int group = hq / hkv;
  return (group + kGroupHeads - 1) / kGroupHeads;
}

// Warps of a launch: (row, KV head, chunk, split) items.
inline int64_t grouped_items(const AttentionParams& p, int splits) {
  return p.tq * p.hkv * group_chunks(p.hq, p.hkv) * int64_t(splits);
}

// Elements c0 .. c0 + 7 of a K/V row of d elements as f32, zero past d.
// `vec`: the row starts 16-byte aligned and d % 8 == 0, so a slice that
// starts inside the row lies in it whole and loads as 16-byte vectors.
__device__ __forceinline__ void load8(const float* row, int c0, int d, bool vec, float (&x)[8]) {
  if (vec) {
    if (c0 < d) {
      const float4 a = *reinterpret_cast<const float4*>(row + c0);
      const float4 b = *reinterpret_cast<const float4*>(row + c0 + 4);
      x[0] = a.x, x[1] = a.y, x[2] = a.z, x[3] = a.w;
      x[4] = b.x, x[5] = b.y, x[6] = b.z, x[7] = b.w;
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) x[e] = 0.f;
    }
    return;
  }
#pragma unroll
  for (int e = 0; e < 8; ++e) x[e] = c0 + e < d ? row[c0 + e] : 0.f;
}

__device__ __forceinline__ void load8(const uint16_t* row, int c0, int d, bool vec,
                                      float (&x)[8]) {
  if (vec) {
    if (c0 < d) {
      const uint4 u = *reinterpret_cast<const uint4*>(row + c0);
      const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
      for (int i = 0; i < 4; ++i) {  // little-endian: the low half is the lower element
        x[2 * i] = __uint_as_float(w[i] << 16);
        x[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
      }
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) x[e] = 0.f;
    }
    return;
  }
#pragma unroll
  for (int e = 0; e < 8; ++e) x[e] = c0 + e < d ? bf16_bits_to_f32(row[c0 + e]) : 0.f;
}

// Item order: ((row * hkv + kv head) * chunks + chunk) * splits + split.
// With one split the results go to p.out / p.lse; with several, head h of
// row r writes partial (r * hq + h) * splits + split of part_out / part_lse.
// With a piece table, split s walks pieces[split_first[s] .. split_first[s + 1]).
template <int NJ, typename KT>  // d <= 32 * NJ; KT: K/V element (float or bf16 bits)
__global__ void __launch_bounds__(kGroupedWarps * 32)
    attention_grouped_kernel(const AttentionParams p, int splits, int64_t keys_per_split,
                             const KeyBlock* __restrict__ pieces,
                             const int* __restrict__ split_first, float* __restrict__ part_out,
                             float* __restrict__ part_lse) {
  constexpr int G = kGroupHeads;
  constexpr int kMaxD = 32 * NJ;
  constexpr int kSliceLanes = kMaxD / 8;        // lanes per V row: 8, 16, 32
  constexpr int kRowsPerStep = 32 / kSliceLanes;  // V rows per step: 4, 2, 1
  constexpr int kUnroll = NJ == 8 ? 4 : 16 / kRowsPerStep;  // steps in flight
  constexpr int kRowsPerBatch = kRowsPerStep * kUnroll;   // 16, 16, 4: divides 32
  constexpr int kKeySlicesUnroll = kMaxD / 8 > 16 ? 16 : kMaxD / 8;  // K slices in flight
  // The chunk's q, times scale * log2(e) (read as float4: 16-byte aligned).
  __shared__ __align__(16) float q_s[kGroupedWarps][G][kMaxD];
  __shared__ float w_s[kGroupedWarps][G][32];     // the tile's softmax weights

  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int group = p.hq / p.hkv;
  const int chunks = (group + G - 1) / G;
  const int64_t item = int64_t(blockIdx.x) * kGroupedWarps + warp;
  if (item >= p.tq * p.hkv * chunks * int64_t(splits)) return;  // whole warps: no block sync below
  const int split = int(item % splits);
  int64_t rest = item / splits;
  const int chunk = int(rest % chunks);
  rest /= chunks;
  const int kvh = int(rest % p.hkv);
  const int64_t row = rest / p.hkv;
  const int h0 = kvh * group + chunk * G;   // the chunk's first query head
  const int ng = min(G, group - chunk * G);  // its heads (warp-uniform)
  const int d = p.d;
  const int32_t qp = p.q_pos[row];
  const int qeff = qp < 0 ? -1 : (p.causal ? int(qp) : INT_MAX);
  const float scale_log2 = p.scale * 1.4426950408889634f;

  float(&qs)[G][kMaxD] = q_s[warp];
  float(&ws)[G][32] = w_s[warp];
#pragma unroll
  for (int g = 0; g < G; ++g) {
#pragma unroll
    for (int j = 0; j < NJ; ++j) {
      const int c = lane + 32 * j;
      qs[g][c] = g < ng && c < d ? p.q[(row * p.hq + h0 + g) * d + c] * scale_log2 : 0.f;
    }
  }
  __syncwarp();

  // Lane's slice of the V rows: elements c0 .. c0 + 7 of row slot `vslot`.
  const int c0 = (lane % kSliceLanes) * 8;
  const int vslot = lane / kSliceLanes;
  float acc[G][8], m[G], l[G];  // m, l: warp-uniform
#pragma unroll
  for (int g = 0; g < G; ++g) {
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[g][e] = 0.f;
    m[g] = -CUDART_INF_F;
    l[g] = 0.f;
  }

  const int64_t kv_row = int64_t(p.hkv) * d;
  const int piece_begin = pieces ? split_first[split] : 0;
  const int piece_end = pieces ? split_first[split + 1] : 1;
  for (int pc = piece_begin; qeff >= 0 && pc < piece_end; ++pc) {
    const KeyBlock blk = split_piece<KT>(p, pieces, pc, split, keys_per_split);
    const KT* kbase = static_cast<const KT*>(blk.k) + int64_t(kvh) * d;
    const KT* vbase = static_cast<const KT*>(blk.v) + int64_t(kvh) * d;
    const bool vec = d % 8 == 0 && ((reinterpret_cast<uintptr_t>(blk.k) |
                                     reinterpret_cast<uintptr_t>(blk.v)) & 15) == 0;
    for (int64_t base = 0; base < blk.n; base += 32) {
      const int64_t jl = base + lane;
      const int32_t kp = jl < blk.n ? blk.pos[jl] : -1;
      const bool visible = kp >= 0 && kp <= qeff;
      if (__ballot_sync(kFullMask, visible) == 0) continue;

      // Scores of this lane's key (log2 units); -inf where it is not visible.
      float s[G];
#pragma unroll
      for (int g = 0; g < G; ++g) s[g] = visible ? 0.f : -CUDART_INF_F;
      if (visible) {
        const KT* kr = kbase + jl * kv_row;  // [d]
#pragma unroll kKeySlicesUnroll
        for (int cc = 0; cc < kMaxD; cc += 8) {
          if (cc < d) {
            float kx[8];
            load8(kr, cc, d, vec, kx);
#pragma unroll
            for (int g = 0; g < G; ++g) {
              if (g < ng) {
                const float4 qa = *reinterpret_cast<const float4*>(&qs[g][cc]);
                const float4 qb = *reinterpret_cast<const float4*>(&qs[g][cc + 4]);
                s[g] += qa.x * kx[0] + qa.y * kx[1] + qa.z * kx[2] + qa.w * kx[3] +
                        qb.x * kx[4] + qb.y * kx[5] + qb.z * kx[6] + qb.w * kx[7];
              }
            }
          }
        }
      }

      // Online softmax over the tile, per head. A key with a -inf score weighs
      // 0 for that head, whose accumulators never see its V row (as in the
      // generic kernel: 0 * inf would be NaN); a key that weighs 0 for every
      // head is not read at all.
      unsigned head_keys[G];  // per head: the tile's keys whose score is not -inf
#pragma unroll
      for (int g = 0; g < G; ++g) {
        head_keys[g] = 0;
        if (g >= ng) continue;  // warp-uniform
        head_keys[g] = __ballot_sync(kFullMask, s[g] != -CUDART_INF_F);
        const float mn = fmaxf(m[g], warp_max(s[g]));  // fmaxf passes NaN over: see w
        // exp2(-inf - -inf) would be NaN: no key seen yet scales nothing.
        const float corr = mn == m[g] ? 1.f : exp2f(m[g] - mn);
        // A -inf score weighs 0; a NaN score gives a NaN weight, which makes
        // l and the row NaN, as in kernels/cpu.
        const float w = s[g] == -CUDART_INF_F ? 0.f : exp2f(s[g] - mn);
        l[g] = l[g] * corr + warp_sum(w);
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[g][e] *= corr;
        m[g] = mn;
        ws[g][lane] = w;
      }
      unsigned live = 0;
#pragma unroll
      for (int g = 0; g < G; ++g) live |= head_keys[g];
      __syncwarp();

      // acc += w * V over the tile's live keys, kRowsPerBatch rows in flight.
      const int64_t nk = blk.n - base;  // keys of this tile: rows past it are never read
#pragma unroll 1
      for (int t0 = 0; t0 < 32; t0 += kRowsPerBatch) {
        if (((live >> t0) & ((1ull << kRowsPerBatch) - 1)) == 0) continue;  // warp-uniform
        float vx[kUnroll][8];
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
          const int t = t0 + u * kRowsPerStep + vslot;
          if (t < nk && ((live >> t) & 1u)) {
            load8(vbase + (base + t) * kv_row, c0, d, vec, vx[u]);
          } else {
#pragma unroll
            for (int e = 0; e < 8; ++e) vx[u][e] = 0.f;
          }
        }
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
          const int t = t0 + u * kRowsPerStep + vslot;
#pragma unroll
          for (int g = 0; g < G; ++g) {
            if (g >= ng || !((head_keys[g] >> t) & 1u)) continue;
            const float w = ws[g][t];
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[g][e] += w * vx[u][e];
          }
        }
      }
      __syncwarp();  // the next tile rewrites ws
    }
  }

  // Lanes holding the same slice of different row slots add up (the
  // accumulators share m, so they add as they are).
#pragma unroll
  for (int g = 0; g < G; ++g) {
#pragma unroll
    for (int e = 0; e < 8; ++e) {
#pragma unroll
      for (int o = kSliceLanes; o < 32; o <<= 1) acc[g][e] += __shfl_xor_sync(kFullMask, acc[g][e], o);
    }
  }
#pragma unroll
  for (int g = 0; g < G; ++g) {
    if (g >= ng) continue;
    const int64_t rh = row * p.hq + h0 + g;
    const bool live_row = !(l[g] <= 0.f);  // a NaN score poisons the row, as in kernels/cpu
    const float inv = live_row ? 1.f / l[g] : 0.f;
    const int64_t part = rh * splits + split;
    float* o = splits == 1 ? p.out + rh * d : part_out + part * d;  // [d]
    if (vslot == 0) {
#pragma unroll
      for (int e = 0; e < 8; ++e)
        if (c0 + e < d) o[c0 + e] = acc[g][e] * inv;
    }
    if (lane == 0) {
      const float lse = live_row ? (m[g] + log2f(l[g])) * 0.6931471805599453f : -CUDART_INF_F;
      if (splits == 1)
        p.lse[rh] = lse;
      else
        part_lse[part] = lse;
    }
  }
}

}  // namespace ringlm::kernels::cuda::attn
