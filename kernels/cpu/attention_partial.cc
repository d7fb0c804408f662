// Position-masked partial attention with LSE output (CPU, OpenMP threaded).
//
// Flash-style: for a tile of query rows and one KV head, an online softmax
// runs over tiles of keys, so working memory is O(tile) and never O(tq * tk).
// The H_q / H_kv query heads of the KV group are stacked with the tile's rows
// into one GEMM operand, so every K and V row is read once per group, not once
// per head. QK^T and PV are cblas_sgemm calls; masking and the softmax run
// between them. Work items are (query tile, KV head) pairs; when there are too
// few of them to occupy the threads (decode: tq = 1), the keys are split into
// ranges as well and the ranges' partial states are combined exactly by the
// LSE rule (docs/context-parallelism.md section 2).
//
// Masking compares global positions only: a key is visible to a row iff
// k_pos >= 0, q_pos >= 0 and (!causal || k_pos <= q_pos). A key tile that no
// row of the query tile can see costs no arithmetic.
//
// Row-at-a-time variants (dot products per key, no GEMM) measured 2-6x
// slower than this even for tq = 1, so there is one path.
#include "cpu/attention_partial.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "cpu/simd_clones.h"
#include "cpu/vec_math.h"

namespace ringlm::kernels::cpu {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The element-wise loops (mask, max, exp, rescale) are compiled for AVX-512
// and AVX2 besides the x86-64-v2 baseline (cpu/simd_clones.h). With the SSE
// baseline alone the kernel ran 1.37x longer (tq = tk = 2048, H_q 9, H_kv 3,
// d 64, one AVX-512 core).

// GEMM M = query-tile rows x group heads, aimed at this.
constexpr int kTileRowsTarget = 64;
// M x N x K of every GEMM stays at or under OpenBLAS's single-thread size
// (65536 * GEMM_MULTITHREAD_THRESHOLD = 4): the calls come from inside an
// OpenMP region, and above it the pthread OpenBLAS starts its own threads on
// top of ours (measured 4x slower).
constexpr int64_t kGemmMaxMnk = 65536 * 4;
constexpr int kTileKeysMax = 256;
// Keys per range when the keys are split across threads, and a cap on the
// memory the ranges' partial results take (floats).
constexpr int64_t kSplitKeys = 1024;
constexpr int64_t kSplitMaxFloats = int64_t(16) << 20;

// Valid (>= 0) position range of a run of keys or queries, and whether
// padding (< 0) occurs in it.
struct PosRange {
  int32_t lo = std::numeric_limits<int32_t>::max();
  int32_t hi = std::numeric_limits<int32_t>::min();
  bool any_valid = false;
  bool any_pad = false;
};

PosRange pos_range(const int32_t* pos, int64_t n) {
  PosRange r;
  for (int64_t i = 0; i < n; ++i) {
    if (pos[i] < 0) {
      r.any_pad = true;
    } else {
      r.any_valid = true;
      r.lo = std::min(r.lo, pos[i]);
      r.hi = std::max(r.hi, pos[i]);
    }
  }
  return r;
}

// Bq: about kTileRowsTarget / G query rows, preferring a count that makes
// M = Bq * G a multiple of 16 (whole AVX-512 vectors in the softmax, whole
// register blocks in the GEMM): ~15% faster than M = 63 for G = 3.
int query_tile_rows(int group) {
  const int target = std::max(1, kTileRowsTarget / group);
  for (int r = target; r >= std::max(1, target / 2); --r) {
    if (r * group % 16 == 0) return r;
  }
  for (int r = target + 1; r <= 2 * target; ++r) {
    if (r * group % 16 == 0) return r;
  }
  return target;
}

// Per-thread working set of one work item. GEMM row r = il * G + h stands for
// query row i0 + il, query head g * G + h.
struct TileScratch {
  std::vector<float> qt;         // [d, M]  scaled queries, transposed
  std::vector<float> st;         // [Bk, M] scores (transposed), then probabilities
  std::vector<float> o;          // [M, d]  unnormalised output
  std::vector<float> m, l;       // [M]     running max and sum of exp(s - m)
  std::vector<float> base, sum;  // [M]     per key tile
  std::vector<int32_t> row_pos;  // [M]     query position of each GEMM row
  std::vector<float> kf, vf;     // [Bk, d] K and V tiles widened from bf16

  TileScratch(int max_m, int tile_keys, int d, KvType kv)
      : qt(size_t(max_m) * d),
        st(size_t(tile_keys) * max_m),
        o(size_t(max_m) * d),
        m(max_m),
        l(max_m),
        base(max_m),
        sum(max_m),
        row_pos(max_m),
        kf(kv == KvType::kBF16 ? size_t(tile_keys) * d : 0),
        vf(kv == KvType::kBF16 ? size_t(tile_keys) * d : 0) {}
};

// Rows [j0, j0 + n) of KV head g of a K or V array [tk, hkv, d] as an f32
// operand: the stored rows themselves (leading dimension hkv * d) for an f32
// cache, or widened from bf16 into buf (leading dimension d).
RINGLM_SIMD_CLONES
const float* kv_tile(const AttentionParams& p, const void* base, int64_t j0, int n, int g,
                     float* buf, int* ld) {
  const int64_t row = int64_t(p.hkv) * p.d;
  if (p.kv == KvType::kF32) {
    *ld = int(row);
    return static_cast<const float*>(base) + j0 * row + int64_t(g) * p.d;
  }
  const auto* src = static_cast<const uint16_t*>(base) + j0 * row + int64_t(g) * p.d;
  for (int j = 0; j < n; ++j) {
    const uint16_t* s = src + j * row;
    float* o = buf + size_t(j) * p.d;
#pragma omp simd
    for (int c = 0; c < p.d; ++c) o[c] = std::bit_cast<float>(uint32_t(s[c]) << 16);
  }
  *ld = p.d;
  return buf;
}

// Scores are kept transposed, st [n, M] = K [n, d] . Qs^T [d, M], so that
// both GEMMs are in the forms OpenBLAS runs fastest at these small shapes
// (NN, then TN: measured 110 vs 82 GFLOP/s for the NT form of QK^T), and the
// softmax runs along M, element-wise across rows, with no horizontal
// reductions.

// Between the two GEMMs of one key tile: masks st [n, M], runs the online
// softmax over it in place (scores -> probabilities) and rescales the rows of
// o [M, d] whose running max moved.
RINGLM_SIMD_CLONES
void tile_softmax(const AttentionParams& p, int mrows, int64_t j0, int n, bool all_visible,
                  TileScratch& w) {
  const int d = p.d;
  float* st = w.st.data();
  float* mt = w.base.data();
  float* sum = w.sum.data();
  const int32_t* row_pos = w.row_pos.data();
  if (!all_visible) {
    const bool causal = p.causal;
    for (int j = 0; j < n; ++j) {
      const int32_t kp = p.k_pos[j0 + j];
      float* sj = st + size_t(j) * mrows;  // [M]
      if (kp < 0) {
        std::fill(sj, sj + mrows, kNegInf);
        continue;
      }
#pragma omp simd
      for (int r = 0; r < mrows; ++r) {
        const bool vis = (row_pos[r] >= 0) & (!causal | (kp <= row_pos[r]));
        sj[r] = select(vis, sj[r], kNegInf);
      }
    }
  }
  std::fill(mt, mt + mrows, kNegInf);
  for (int j = 0; j < n; ++j) {
    const float* sj = st + size_t(j) * mrows;
#pragma omp simd
    for (int r = 0; r < mrows; ++r) mt[r] = std::max(mt[r], sj[r]);
  }
  // New running max. A row that has seen no key yet stays at -inf and uses 0
  // as its exponent base, so that exp(-inf - base) = 0 rather than NaN.
#pragma omp simd
  for (int r = 0; r < mrows; ++r) {
    const float m_new = std::max(w.m[r], mt[r]);
    mt[r] = m_new == kNegInf ? 0.f : m_new;
    sum[r] = 0.f;
  }
  for (int j = 0; j < n; ++j) {
    float* sj = st + size_t(j) * mrows;
#pragma omp simd
    for (int r = 0; r < mrows; ++r) {
      const float e = exp_approx(sj[r] - mt[r]);
      sj[r] = e;
      sum[r] += e;
    }
  }
  for (int r = 0; r < mrows; ++r) {
    if (sum[r] == 0.f) continue;                     // nothing visible to this row in the tile
    const float alpha = exp_approx(w.m[r] - mt[r]);  // m = -inf -> 0 (o, l are 0 then)
    w.l[r] = w.l[r] * alpha + sum[r];
    w.m[r] = mt[r];
    if (alpha == 1.f) continue;
    float* orow = w.o.data() + size_t(r) * d;
#pragma omp simd
    for (int c = 0; c < d; ++c) orow[c] *= alpha;
  }
}

// qt[c, il*G + h] = scale * q[i0 + il, g*G + h, c].
RINGLM_SIMD_CLONES
void pack_queries(const AttentionParams& p, int64_t i0, int rows, int g, int group, float* qt) {
  const int mrows = rows * group;
  for (int il = 0; il < rows; ++il) {
    const float* qi = p.q + ((i0 + il) * p.hq + int64_t(g) * group) * p.d;  // [G, d]
    for (int h = 0; h < group; ++h) {
      const int r = il * group + h;
      for (int c = 0; c < p.d; ++c) qt[size_t(c) * mrows + r] = qi[h * p.d + c] * p.scale;
    }
  }
}

// Runs query rows [i0, i0 + rows) x KV head g over keys [k0, k1), leaving the
// unnormalised state (o, m, l) of the M = rows * G GEMM rows in w.
void tile_item(const AttentionParams& p, int group, int tile_keys, int64_t i0, int rows, int g,
               int64_t k0, int64_t k1, TileScratch& w) {
  const int d = p.d;
  const int mrows = rows * group;
  std::fill(w.m.begin(), w.m.begin() + mrows, kNegInf);
  std::fill(w.l.begin(), w.l.begin() + mrows, 0.f);
  std::fill(w.o.begin(), w.o.begin() + size_t(mrows) * d, 0.f);
  const PosRange qr = pos_range(p.q_pos + i0, rows);
  if (!qr.any_valid) return;
  pack_queries(p, i0, rows, g, group, w.qt.data());
  for (int r = 0; r < mrows; ++r) w.row_pos[r] = p.q_pos[i0 + r / group];
  for (int64_t j0 = k0; j0 < k1; j0 += tile_keys) {
    const int n = int(std::min<int64_t>(tile_keys, k1 - j0));
    const PosRange kr = pos_range(p.k_pos + j0, n);
    if (!kr.any_valid) continue;
    if (p.causal && kr.lo > qr.hi) continue;  // no row of the tile sees any of these keys
    int ldk = 0, ldv = 0;
    const float* kt = kv_tile(p, p.k, j0, n, g, w.kf.data(), &ldk);  // [n, d]
    // st[n, M] = K[n, d] . Qs^T[d, M]
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, mrows, d, 1.f, kt, ldk, w.qt.data(),
                mrows, 0.f, w.st.data(), mrows);
    const bool all_visible = !kr.any_pad && !qr.any_pad && (!p.causal || kr.hi <= qr.lo);
    tile_softmax(p, mrows, j0, n, all_visible, w);
    const float* vt = kv_tile(p, p.v, j0, n, g, w.vf.data(), &ldv);  // [n, d]
    // O[M, d] += P[M, n] . V[n, d],  P = st^T
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, mrows, d, n, 1.f, w.st.data(), mrows, vt,
                ldv, 1.f, w.o.data(), d);
  }
}

// out = acc / l, lse = m + log(l); a row that saw nothing gets 0 and -inf.
inline void finalize_row(const float* acc, float m, float l, int d, float* out, float* lse) {
  if (!(l <= 0.f)) {  // l = NaN (a NaN score) makes out and lse NaN
    const float inv = 1.f / l;
    for (int c = 0; c < d; ++c) out[c] = acc[c] * inv;
    *lse = m + std::log(l);
  } else {
    std::fill(out, out + d, 0.f);
    *lse = kNegInf;
  }
}

// Appends block b cut into pieces of at most `piece_keys` keys (rows of
// p.hkv * p.d elements of p.kv); an empty block adds nothing.
void append_pieces(const AttentionParams& p, const KeyBlock& b, int64_t piece_keys,
                   std::vector<KeyBlock>* out) {
  const int64_t row = int64_t(p.hkv) * p.d;
  for (int64_t off = 0; off < b.n; off += piece_keys)
    out->push_back(KeyBlock{kv_advance(b.k, off * row, p.kv), kv_advance(b.v, off * row, p.kv),
                            b.pos + off, std::min(piece_keys, b.n - off)});
}

// p's queries over `pieces` (key ranges with their own k, v, positions), the
// threads sharing (piece, query tile, KV head) items; each piece leaves its
// unnormalised state, folded per row into a running (M, L, O) by the LSE rule
// (M = max, L = sum l_c e^(m_c - M), O = sum o_c e^(m_c - M)), in batches of
// pieces whose states fit kSplitMaxFloats. No pieces: every row sees nothing.
void attend_pieces(const AttentionParams& p, const std::vector<KeyBlock>& pieces) {
  const int d = p.d;
  const size_t rows_total = size_t(p.tq) * p.hq;
  if (pieces.empty()) {
    std::fill(p.out, p.out + rows_total * d, 0.f);
    std::fill(p.lse, p.lse + rows_total, kNegInf);
    return;
  }
  const int group = p.hq / p.hkv;
  const int tile_rows = query_tile_rows(group);
  const int max_m = tile_rows * group;
  const int64_t m_used = std::min<int64_t>(tile_rows, p.tq) * group;
  const int tile_keys = std::clamp(int(kGemmMaxMnk / (m_used * d)) / 8 * 8, 8, kTileKeysMax);
  const int64_t qtiles = (p.tq + tile_rows - 1) / tile_rows;
  const int64_t items = qtiles * p.hkv;
  // Pieces run in batches whose partial states fit kSplitMaxFloats; each
  // batch is folded into a running state per row (M, L, O) by the LSE rule.
  const int64_t batch = std::clamp<int64_t>(kSplitMaxFloats / int64_t(rows_total * (d + 2)), 1,
                                            int64_t(pieces.size()));
  std::vector<float> o_part(size_t(batch) * rows_total * d), m_part(size_t(batch) * rows_total),
      l_part(size_t(batch) * rows_total);
  std::vector<float> run_m(rows_total, kNegInf), run_l(rows_total, 0.f), run_o(rows_total * d, 0.f);
  for (int64_t b0 = 0; b0 < int64_t(pieces.size()); b0 += batch) {
    const int64_t nb = std::min<int64_t>(batch, int64_t(pieces.size()) - b0);
#pragma omp parallel
    {
      TileScratch w(max_m, tile_keys, d, p.kv);
#pragma omp for collapse(2) schedule(dynamic, 1)
      for (int64_t c = 0; c < nb; ++c) {
        for (int64_t it = 0; it < items; ++it) {
          const KeyBlock& pc = pieces[size_t(b0 + c)];
          AttentionParams pp = p;
          pp.k = pc.k;
          pp.v = pc.v;
          pp.k_pos = pc.pos;
          pp.tk = pc.n;
          const int64_t i0 = (it / p.hkv) * tile_rows;
          const int g = int(it % p.hkv);
          const int rows = int(std::min<int64_t>(tile_rows, p.tq - i0));
          tile_item(pp, group, tile_keys, i0, rows, g, 0, pc.n, w);
          for (int r = 0; r < rows * group; ++r) {
            const size_t head =
                size_t(c) * rows_total + (i0 + r / group) * p.hq + size_t(g) * group + r % group;
            std::copy_n(w.o.data() + size_t(r) * d, d, o_part.data() + head * d);
            m_part[head] = w.m[r];
            l_part[head] = w.l[r];
          }
        }
      }
#pragma omp for schedule(static)
      for (int64_t row = 0; row < int64_t(rows_total); ++row) {
        float mx = run_m[size_t(row)];
        for (int64_t c = 0; c < nb; ++c) mx = std::max(mx, m_part[c * rows_total + row]);
        if (mx == kNegInf) continue;
        float* acc = run_o.data() + size_t(row) * d;
        const float keep = run_l[size_t(row)] > 0.f ? std::exp(run_m[size_t(row)] - mx) : 0.f;
        float l = run_l[size_t(row)] * keep;
        for (int e = 0; e < d; ++e) acc[e] *= keep;
        for (int64_t c = 0; c < nb; ++c) {
          const size_t at = c * rows_total + row;
          if (l_part[at] == 0.f) continue;
          const float scale = std::exp(m_part[at] - mx);
          l += l_part[at] * scale;
          const float* oc = o_part.data() + at * d;
          for (int e = 0; e < d; ++e) acc[e] += oc[e] * scale;
        }
        run_m[size_t(row)] = mx;
        run_l[size_t(row)] = l;
      }
    }
  }
  for (size_t row = 0; row < rows_total; ++row)
    finalize_row(run_o.data() + row * d, run_m[row], run_l[row], d, p.out + row * d, p.lse + row);
}

}  // namespace

void attention_partial(const AttentionParams& p) {
  if (p.tq <= 0 || p.hq <= 0 || p.d <= 0) return;
  const int d = p.d;
  if (p.tk <= 0) {
    std::fill(p.out, p.out + p.tq * p.hq * d, 0.f);
    std::fill(p.lse, p.lse + p.tq * p.hq, kNegInf);
    return;
  }
  const int group = p.hq / p.hkv;                // G: query heads per KV head
  const int tile_rows = query_tile_rows(group);  // Bq
  const int max_m = tile_rows * group;           // GEMM M
  const int64_t m_used = std::min<int64_t>(tile_rows, p.tq) * group;
  const int tile_keys =  // Bk, within the single-thread GEMM size
      std::clamp(int(kGemmMaxMnk / (m_used * d)) / 8 * 8, 8, kTileKeysMax);
  const int64_t qtiles = (p.tq + tile_rows - 1) / tile_rows;
  const int64_t items = qtiles * p.hkv;
  const int threads = omp_get_max_threads();

  // Key ranges per item: 1 unless the items alone leave threads idle (decode,
  // short chunks). Then the keys are cut into ranges of about kSplitKeys, and
  // the ranges are handed out range-major, so the KV heads of one range run
  // close together in time and its K/V rows stay in cache between heads.
  int64_t chunks = 1;
  if (threads > 1 && items < 2 * threads) {
    const int64_t partial_floats = p.tq * p.hq * int64_t(d + 2);
    chunks = std::clamp<int64_t>(p.tk / kSplitKeys, 1,
                                 std::max<int64_t>(1, kSplitMaxFloats / partial_floats));
  }

  if (chunks == 1) {
#pragma omp parallel
    {
      TileScratch w(max_m, tile_keys, d, p.kv);
      // Causal work grows with the query tile's index: hand out the last
      // (heaviest) tiles first so that the dynamic schedule ends balanced.
#pragma omp for schedule(dynamic, 1)
      for (int64_t it = 0; it < items; ++it) {
        const int64_t i0 = (qtiles - 1 - it / p.hkv) * tile_rows;
        const int g = int(it % p.hkv);
        const int rows = int(std::min<int64_t>(tile_rows, p.tq - i0));
        tile_item(p, group, tile_keys, i0, rows, g, 0, p.tk, w);
        for (int r = 0; r < rows * group; ++r) {
          const int64_t head = (i0 + r / group) * p.hq + int64_t(g) * group + r % group;
          finalize_row(w.o.data() + size_t(r) * d, w.m[r], w.l[r], d, p.out + head * d,
                       p.lse + head);
        }
      }
    }
    return;
  }

  // Split keys into `chunks` ranges of p's keys, combined by the LSE rule.
  std::vector<KeyBlock> ranges;
  append_pieces(p, KeyBlock{p.k, p.v, p.k_pos, p.tk}, (p.tk + chunks - 1) / chunks, &ranges);
  attend_pieces(p, ranges);
}

void attention_partial_blocks(const AttentionParams& p, const KeyBlock* blocks, size_t nblocks) {
  if (p.tq <= 0 || p.hq <= 0 || p.d <= 0) return;
  // Pieces of at most kSplitKeys keys, so that the threads share the keys of
  // long blocks as well as the blocks themselves.
  std::vector<KeyBlock> pieces;
  for (size_t b = 0; b < nblocks; ++b) append_pieces(p, blocks[b], kSplitKeys, &pieces);
  attend_pieces(p, pieces);
}

}  // namespace ringlm::kernels::cpu
