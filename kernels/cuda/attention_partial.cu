// Dispatch of the CUDA partial attention, the tile-metadata pre-pass of the
// tensor-core path, and the generic f32 path (with its key-split combine).
#include <math_constants.h>

#include <climits>
#include <type_traits>
#include <vector>

#include "cuda/attention_grouped.cuh"
#include "cuda/attention_mma.h"
#include "cuda/attention_partial.h"
#include "cuda/attention_split_keys.cuh"
#include "cuda/common.cuh"
#include "cuda/convert.h"

namespace ringlm::kernels::cuda {
namespace {

using attn::kBc;
using attn::TileMeta;

constexpr int kGenericWarps = 4;           // warps per block of the generic kernel
constexpr int64_t kMinKeysPerSplit = 256;  // below this a split costs more than it saves
// At most this many key splits, for the grouped kernel too: the split combine
// runs one warp per (row, head) walking every split, and on an H100 the
// grouped kernel decoded a 128K context slower with 512 splits (8 KV heads,
// 256 keys a split) than the generic kernel, while at 32K with 128 splits it
// was the faster one.
constexpr int kMaxSplits = 128;
constexpr int64_t kMmaMinRows = 64;  // fewer query rows: the 128-row tile is mostly empty

int tile_count(int64_t tk) { return int(ceil_div(tk, kBc)); }

// ---- tile metadata (tensor-core path) ----

// One warp per 64-key tile: min / max valid position, validity flags, and a
// copy of the positions padded with -1 to a whole number of tiles.
__global__ void tile_meta_kernel(const int32_t* __restrict__ k_pos, int64_t tk, int ntiles,
                                 TileMeta* __restrict__ meta, int32_t* __restrict__ kpad) {
  const int lane = threadIdx.x & 31;
  const int64_t t = int64_t(blockIdx.x) * (blockDim.x / 32) + (threadIdx.x >> 5);
  if (t >= ntiles) return;
  int mn = INT_MAX, mx = -1;
  bool any = false, all = true;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int64_t j = t * kBc + half * 32 + lane;
    const int32_t kp = j < tk ? k_pos[j] : -1;
    kpad[j] = kp;
    const bool valid = kp >= 0;
    any |= valid;
    all &= valid;
    if (valid) mn = min(mn, int(kp)), mx = max(mx, int(kp));
  }
  any = __any_sync(kFullMask, any);
  all = __all_sync(kFullMask, all);
  mn = __reduce_min_sync(kFullMask, mn);
  mx = __reduce_max_sync(kFullMask, mx);
  if (lane == 0) meta[t] = make_int4(mn, mx, (any ? 1 : 0) | (all ? 2 : 0), 0);
}

cudaError_t run_mma(const AttentionBf16Params& p, void* workspace, cudaStream_t stream) {
  const int ntiles = tile_count(p.tk);
  auto* meta = static_cast<TileMeta*>(workspace);
  auto* kpad = reinterpret_cast<int32_t*>(static_cast<char*>(workspace) +
                                          align256(sizeof(TileMeta) * size_t(ntiles)));
  if (ntiles > 0) {
    constexpr int kWarpsPerBlock = 8;
    tile_meta_kernel<<<unsigned(ceil_div(ntiles, kWarpsPerBlock)), kWarpsPerBlock * 32, 0,
                       stream>>>(p.k_pos, p.tk, ntiles, meta, kpad);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  switch (p.d) {
    case 64:
      return attn::launch_mma<64>(p, meta, kpad, ntiles, stream);
    case 128:
      return attn::launch_mma<128>(p, meta, kpad, ntiles, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

// ---- generic f32 path ----

// One warp per (query row, head, key split). Lane c holds q[c + 32 j]; each
// visible key costs one warp-wide dot product and an online-softmax update.
// Keys are screened 32 at a time by position (a ballot), so masked keys are
// never read. Writes the normalised partial (out, lse) of its split: straight
// into p.out / p.lse with one split, else into part_out / part_lse.
// With a piece table (attention over several key blocks), split s walks
// pieces[split_first[s] .. split_first[s + 1]) instead of its key range of p.
template <int NJ, typename KT>  // d <= 32 * NJ; KT: K/V element (float or bf16 bits)
__global__ void __launch_bounds__(kGenericWarps * 32)
    attention_generic_kernel(const AttentionParams p, int splits, int64_t keys_per_split,
                             const KeyBlock* __restrict__ pieces,
                             const int* __restrict__ split_first, float* __restrict__ part_out,
                             float* __restrict__ part_lse) {
  const int lane = threadIdx.x & 31;
  const int64_t item = int64_t(blockIdx.x) * kGenericWarps + (threadIdx.x >> 5);
  if (item >= p.tq * p.hq * splits) return;
  const int split = int(item % splits);
  const int64_t rh = item / splits;  // row * hq + head
  const int h = int(rh % p.hq);
  const int64_t row = rh / p.hq;
  const int kvh = h / (p.hq / p.hkv);
  const int d = p.d;
  const int32_t qp = p.q_pos[row];
  const int qeff = qp < 0 ? -1 : (p.causal ? int(qp) : INT_MAX);

  float q[NJ], acc[NJ];
  const float* qr = p.q + rh * d;  // [d]
#pragma unroll
  for (int j = 0; j < NJ; ++j) {
    const int c = lane + 32 * j;
    q[j] = c < d ? qr[c] : 0.f;
    acc[j] = 0.f;
  }
  const float scale_log2 = p.scale * 1.4426950408889634f;
  float m = -CUDART_INF_F, l = 0.f;  // warp-uniform
  const int piece_begin = pieces ? split_first[split] : 0;
  const int piece_end = pieces ? split_first[split + 1] : 1;
  for (int pc = piece_begin; qeff >= 0 && pc < piece_end; ++pc) {
    const KeyBlock blk = attn::split_piece<KT>(p, pieces, pc, split, keys_per_split);
    for (int64_t base = 0; base < blk.n; base += 32) {
      const int64_t jl = base + lane;
      const int32_t kp = jl < blk.n ? blk.pos[jl] : -1;
      unsigned vis = __ballot_sync(kFullMask, kp >= 0 && kp <= qeff);
      while (vis) {
        const int b = __ffs(vis) - 1;
        vis &= vis - 1;
        const int64_t key = base + b;
        const KT* kr = static_cast<const KT*>(blk.k) + (key * p.hkv + kvh) * d;  // [d]
        const KT* vr = static_cast<const KT*>(blk.v) + (key * p.hkv + kvh) * d;  // [d]
        float dot = 0.f;
#pragma unroll
        for (int j = 0; j < NJ; ++j) {
          const int c = lane + 32 * j;
          if (c < d) dot += q[j] * kv_load(kr, c);
        }
        const float sv = warp_sum(dot) * scale_log2;  // identical in every lane
        if (sv == -CUDART_INF_F) continue;  // weighs exp(-inf) = 0, as on the CPU (and
                                            // exp2(-inf - -inf) would be NaN)
        if (sv > m) {
          const float corr = exp2f(m - sv);
          l *= corr;
#pragma unroll
          for (int j = 0; j < NJ; ++j) acc[j] *= corr;
          m = sv;
        }
        const float w = exp2f(sv - m);
        l += w;
#pragma unroll
        for (int j = 0; j < NJ; ++j) {
          const int c = lane + 32 * j;
          if (c < d) acc[j] += w * kv_load(vr, c);
        }
      }
    }
  }
  const bool live = !(l <= 0.f);  // a NaN score poisons the row, as in kernels/cpu
  const float inv = live ? 1.f / l : 0.f;
  float* o = splits == 1 ? p.out + rh * d : part_out + item * d;  // [d]
#pragma unroll
  for (int j = 0; j < NJ; ++j) {
    const int c = lane + 32 * j;
    if (c < d) o[c] = acc[j] * inv;
  }
  if (lane == 0) {
    const float lse = live ? (m + log2f(l)) * 0.6931471805599453f : -CUDART_INF_F;
    if (splits == 1)
      p.lse[rh] = lse;
    else
      part_lse[item] = lse;
  }
}

// One warp per (row, head, 32-column slice of d): out = sum_s out_s
// exp(lse_s - L), L = log sum_s exp(lse_s), with the weights taken against the
// largest LSE (exp(lse_s - mx) / sum), so no float rounding of a large L
// enters them. A NaN split makes the row NaN. The warps of a row each find mx
// and the sum themselves (splits / 32 loads a lane); lane c of a slice walks
// every split for its column, several loads in flight.
__global__ void combine_splits_kernel(const float* __restrict__ part_out,
                                      const float* __restrict__ part_lse, int splits, int64_t rows,
                                      int d, float* __restrict__ out, float* __restrict__ lse) {
  const int lane = threadIdx.x & 31;
  const int slices = (d + 31) / 32;
  const int64_t item = int64_t(blockIdx.x) * kGenericWarps + (threadIdx.x >> 5);
  if (item >= rows * slices) return;
  const int64_t rh = item / slices;
  const int slice = int(item % slices);
  const int c = slice * 32 + lane;  // this lane's column
  const bool writes_lse = slice == 0 && lane == 0;
  const float* pl = part_lse + rh * splits;      // [splits]
  const float* po = part_out + rh * splits * d;  // [splits, d]
  float mx = -CUDART_INF_F;
  bool nan = false;
  for (int s = lane; s < splits; s += 32) {
    mx = fmaxf(mx, pl[s]);  // fmaxf skips NaN: counted apart
    nan |= pl[s] != pl[s];
  }
  mx = warp_max(mx);
  if (__any_sync(kFullMask, nan)) mx = CUDART_NAN_F;  // L, out and lse become NaN below
  float* o = out + rh * d;  // [d]
  if (mx == -CUDART_INF_F) {
    if (c < d) o[c] = 0.f;
    if (writes_lse) lse[rh] = -CUDART_INF_F;
    return;
  }
  float sum = 0.f;
  for (int s = lane; s < splits; s += 32) sum += expf(pl[s] - mx);
  const float total = warp_sum(sum);
  const float L = mx + logf(total), inv = 1.f / total;
  if (c < d) {
    float acc = 0.f;
#pragma unroll 4
    for (int s = 0; s < splits; ++s) {
      const float ls = pl[s];
      if (ls != -CUDART_INF_F) acc += po[int64_t(s) * d + c] * expf(ls - mx);
    }
    o[c] = acc * inv;
  }
  if (writes_lse) lse[rh] = L;
}

// Bytes of the split partials (out and lse) of the generic path.
size_t split_partials_bytes(const AttentionParams& p, int splits) {
  if (splits <= 1) return 0;
  return align256(sizeof(float) * size_t(splits) * p.tq * p.hq * p.d) +
         align256(sizeof(float) * size_t(splits) * p.tq * p.hq);
}

// `workspace` holds the split partials (when splits > 1). With `pieces`
// (device table) the splits walk key blocks; otherwise p's keys are cut into
// equal ranges.
cudaError_t run_generic(const AttentionParams& p, int splits, void* workspace, cudaStream_t stream,
                        const KeyBlock* pieces = nullptr, const int* split_first = nullptr,
                        bool grouped = false) {
  const int64_t keys_per_split = splits == 1 ? (p.tk > 0 ? p.tk : 1) : ceil_div(p.tk, splits);
  float* part_out = nullptr;
  float* part_lse = nullptr;
  if (splits > 1) {
    part_out = static_cast<float*>(workspace);
    part_lse =
        reinterpret_cast<float*>(static_cast<char*>(workspace) +
                                 align256(sizeof(float) * size_t(splits) * p.tq * p.hq * p.d));
  }
  static_assert(attn::kGroupedWarps == kGenericWarps, "one block shape for both kernels");
  const int64_t items = grouped ? attn::grouped_items(p, splits) : p.tq * p.hq * splits;
  const int64_t blocks = ceil_div(items, kGenericWarps);
  if (blocks > 0x7fffffffLL) return cudaErrorInvalidValue;
  const dim3 grid{unsigned(blocks)}, block{unsigned(kGenericWarps * 32)};
  const auto launch = [&](auto kernel) {
    kernel<<<grid, block, 0, stream>>>(p, splits, keys_per_split, pieces, split_first, part_out,
                                       part_lse);
  };
  // Per head dim bucket (NJ = 2, 4, 8: d <= 64, 128, 256) and K/V type.
  const auto launch_nj = [&](auto nj) {
    constexpr int NJ = decltype(nj)::value;
    const bool bf16 = p.kv == KvType::kBF16;
    if (grouped)
      bf16 ? launch(attn::attention_grouped_kernel<NJ, uint16_t>)
           : launch(attn::attention_grouped_kernel<NJ, float>);
    else
      bf16 ? launch(attention_generic_kernel<NJ, uint16_t>)
           : launch(attention_generic_kernel<NJ, float>);
  };
  if (p.d <= 64)
    launch_nj(std::integral_constant<int, 2>{});
  else if (p.d <= 128)
    launch_nj(std::integral_constant<int, 4>{});
  else
    launch_nj(std::integral_constant<int, 8>{});
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess || splits == 1) return e;
  const int64_t rows = p.tq * p.hq;
  const int64_t combine_warps = rows * ceil_div(p.d, 32);
  combine_splits_kernel<<<unsigned(ceil_div(combine_warps, kGenericWarps)), kGenericWarps * 32, 0,
                          stream>>>(part_out, part_lse, splits, rows, p.d, p.out, p.lse);
  return cudaGetLastError();
}

// Key splits of the generic path for `items` (row, head) pairs over `keys`
// keys: about 48 warps per multiprocessor, at least kMinKeysPerSplit keys a split,
// at most kMaxSplits splits.
int generic_splits(int64_t items, int64_t keys, int sm_count) {
  int64_t splits = ceil_div(int64_t(sm_count > 0 ? sm_count : 1) * 48, max(items, int64_t(1)));
  splits = min(splits, max(int64_t(1), keys / kMinKeysPerSplit));
  return int(max(int64_t(1), min(splits, int64_t(kMaxSplits))));
}

// Key splits of a plan: the generic kernel's items are (row, head) pairs, the
// grouped kernel's (row, KV head, head chunk) triples.
int plan_splits(const AttentionParams& p, int64_t keys, int sm_count, bool grouped) {
  if (!grouped || p.hkv <= 0 || p.hq % p.hkv != 0) return generic_splits(p.tq * p.hq, keys, sm_count);
  return generic_splits(attn::grouped_items(p, 1), keys, sm_count);
}

// Fills plan.splits / pieces / first: each split takes the next
// keys_per_split keys of the concatenation, as pieces of one or more blocks.
void split_table(const AttentionParams& p, const KeyBlock* blocks, int nblocks, int sm_count,
                 BlocksPlan& t) {
  int64_t total = 0;
  for (int b = 0; b < nblocks; ++b) total += max(blocks[b].n, int64_t(0));
  t.splits = plan_splits(p, total, sm_count, t.grouped);
  const int64_t per = max(int64_t(1), ceil_div(total, t.splits));
  const int64_t row = int64_t(p.hkv) * p.d;
  t.pieces.clear();
  t.first.assign(size_t(t.splits) + 1, 0);
  int s = 0;
  int64_t room = per;
  for (int b = 0; b < nblocks; ++b) {
    for (int64_t off = 0; off < blocks[b].n;) {
      if (room == 0 && s + 1 < t.splits) {
        t.first[size_t(++s)] = int(t.pieces.size());
        room = per;
      }
      const int64_t take = s + 1 < t.splits ? min(room, blocks[b].n - off) : blocks[b].n - off;
      KeyBlock piece;
      piece.k = kv_advance(blocks[b].k, off * row, p.kv);
      piece.v = kv_advance(blocks[b].v, off * row, p.kv);
      piece.pos = blocks[b].pos + off;
      piece.n = take;
      t.pieces.push_back(piece);
      off += take;
      room -= min(room, take);
    }
  }
  for (int r = s + 1; r <= t.splits; ++r) t.first[size_t(r)] = int(t.pieces.size());
}

size_t blocks_table_bytes(const BlocksPlan& plan) {
  return align256(sizeof(KeyBlock) * plan.pieces.size()) +
         align256(sizeof(int) * (size_t(plan.splits) + 1));
}

// Workspace of the tensor-core path fed from f32 inputs: bf16 copies of q, k, v
// followed by the tile metadata.
struct MmaLayout {
  size_t q = 0, k = 0, v = 0, meta = 0, total = 0;
};
MmaLayout mma_layout(const AttentionParams& p) {
  MmaLayout L;
  L.q = 0;
  L.k = L.q + align256(sizeof(uint16_t) * size_t(p.tq) * p.hq * p.d);
  L.v = L.k + align256(sizeof(uint16_t) * size_t(p.tk) * p.hkv * p.d);
  L.meta = L.v + align256(sizeof(uint16_t) * size_t(p.tk) * p.hkv * p.d);
  L.total = L.meta + attention_bf16_workspace_bytes(p.tk);
  return L;
}

}  // namespace

bool attention_mma_supports(int d) { return d == 64 || d == 128; }

size_t attention_bf16_workspace_bytes(int64_t tk) {
  const size_t ntiles = size_t(tile_count(tk));
  return align256(sizeof(TileMeta) * ntiles) + align256(sizeof(int32_t) * ntiles * kBc);
}

AttentionPlan plan_attention(const AttentionParams& p, int sm_count, AttentionPath force) {
  AttentionPlan plan;
  if (p.tq <= 0) {
    plan.path = AttentionPath::kEmpty;
    return plan;
  }
  if (p.d <= 0 || p.d > 256) return plan;  // kUnsupported
  if (force == AttentionPath::kGrouped && p.hkv > 0 && p.hq % p.hkv == 0) {
    plan.path = AttentionPath::kGrouped;
    plan.splits = plan_splits(p, p.tk, sm_count, true);
    plan.workspace_bytes = split_partials_bytes(p, plan.splits);
    return plan;
  }
  const bool mma_ok = attention_mma_supports(p.d);
  bool use_mma = mma_ok && p.tq >= kMmaMinRows;
  if (force == AttentionPath::kMma && mma_ok) use_mma = true;
  if (force == AttentionPath::kGeneric) use_mma = false;
  if (use_mma) {
    plan.path = AttentionPath::kMma;
    plan.workspace_bytes = mma_layout(p).total;
    return plan;
  }
  plan.path = AttentionPath::kGeneric;
  plan.splits = plan_splits(p, p.tk, sm_count, false);
  plan.workspace_bytes = split_partials_bytes(p, plan.splits);
  return plan;
}

BlocksPlan plan_attention_blocks(const AttentionParams& p, const KeyBlock* blocks, int nblocks,
                                 int sm_count, bool grouped) {
  BlocksPlan plan;
  plan.grouped = grouped;
  if (p.d <= 0 || p.d > 256) {
    plan.splits = 0;
    return plan;
  }
  split_table(p, blocks, nblocks, sm_count, plan);
  plan.workspace_bytes = blocks_table_bytes(plan) + split_partials_bytes(p, plan.splits);
  return plan;
}

cudaError_t attention_partial_blocks(const AttentionParams& p, const BlocksPlan& plan,
                                     void* workspace, cudaStream_t stream) {
  if (p.tq <= 0) return cudaSuccess;
  if (plan.splits <= 0 || p.hkv <= 0 || p.hq <= 0 || p.hq % p.hkv != 0 ||
      plan.first.size() != size_t(plan.splits) + 1)
    return cudaErrorInvalidValue;
  char* ws = static_cast<char*>(workspace);
  auto* pieces = reinterpret_cast<KeyBlock*>(ws);
  auto* first = reinterpret_cast<int*>(ws + align256(sizeof(KeyBlock) * plan.pieces.size()));
  // Pageable sources: staged before cudaMemcpyAsync returns.
  cudaError_t e = cudaSuccess;
  if (!plan.pieces.empty())
    e = cudaMemcpyAsync(pieces, plan.pieces.data(), sizeof(KeyBlock) * plan.pieces.size(),
                        cudaMemcpyHostToDevice, stream);
  if (e == cudaSuccess)
    e = cudaMemcpyAsync(first, plan.first.data(), sizeof(int) * plan.first.size(),
                        cudaMemcpyHostToDevice, stream);
  if (e != cudaSuccess) return e;
  return run_generic(p, plan.splits, ws + blocks_table_bytes(plan), stream, pieces, first,
                     plan.grouped);
}

cudaError_t attention_partial(const AttentionParams& p, const AttentionPlan& plan, void* workspace,
                              cudaStream_t stream) {
  if (plan.path == AttentionPath::kEmpty || p.tq <= 0) return cudaSuccess;
  if (p.hkv <= 0 || p.hq <= 0 || p.hq % p.hkv != 0 || p.tk < 0) return cudaErrorInvalidValue;
  switch (plan.path) {
    case AttentionPath::kGeneric:
      return run_generic(p, plan.splits, workspace, stream);
    case AttentionPath::kGrouped:
      return run_generic(p, plan.splits, workspace, stream, nullptr, nullptr, /*grouped=*/true);
    case AttentionPath::kMma: {
      if (!attention_mma_supports(p.d)) return cudaErrorInvalidValue;
      const MmaLayout L = mma_layout(p);
      char* ws = static_cast<char*>(workspace);
      auto* qb = reinterpret_cast<uint16_t*>(ws + L.q);
      auto* kb = reinterpret_cast<uint16_t*>(ws + L.k);
      auto* vb = reinterpret_cast<uint16_t*>(ws + L.v);
      // Padding rows become zeros: they may hold anything, and 0 * NaN would
      // leak into the P V product. A bf16 cache's K/V are copied the same way.
      const int64_t kv_row = int64_t(p.hkv) * p.d;
      const auto kv_rows = [&](const void* x, uint16_t* y) {
        return p.kv == KvType::kBF16 ? bf16_masked_rows(static_cast<const uint16_t*>(x), p.k_pos, y,
                                                        p.tk, kv_row, stream)
                                     : f32_to_bf16_masked_rows(static_cast<const float*>(x),
                                                               p.k_pos, y, p.tk, kv_row, stream);
      };
      cudaError_t e = f32_to_bf16_masked_rows(p.q, p.q_pos, qb, p.tq, int64_t(p.hq) * p.d, stream);
      if (e == cudaSuccess) e = kv_rows(p.k, kb);
      if (e == cudaSuccess) e = kv_rows(p.v, vb);
      if (e != cudaSuccess) return e;
      AttentionBf16Params b;
      b.q = qb;
      b.q_pos = p.q_pos;
      b.k = kb;
      b.v = vb;
      b.k_pos = p.k_pos;
      b.out = p.out;
      b.lse = p.lse;
      b.tq = p.tq;
      b.tk = p.tk;
      b.hq = p.hq;
      b.hkv = p.hkv;
      b.d = p.d;
      b.scale = p.scale;
      b.causal = p.causal;
      return run_mma(b, ws + L.meta, stream);
    }
    default:
      return cudaErrorInvalidValue;
  }
}

cudaError_t attention_partial_bf16(const AttentionBf16Params& p, void* workspace,
                                   cudaStream_t stream) {
  if (p.tq <= 0) return cudaSuccess;
  if (p.hkv <= 0 || p.hq <= 0 || p.hq % p.hkv != 0 || p.tk < 0 || !attention_mma_supports(p.d))
    return cudaErrorInvalidValue;
  if ((reinterpret_cast<uintptr_t>(p.q) | reinterpret_cast<uintptr_t>(p.k) |
       reinterpret_cast<uintptr_t>(p.v)) %
          16 !=
      0)
    return cudaErrorInvalidValue;
  return run_mma(p, workspace, stream);
}

}  // namespace ringlm::kernels::cuda
