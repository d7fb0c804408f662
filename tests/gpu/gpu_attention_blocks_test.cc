// Attention over several key blocks in one call (Backend::attention_partial_blocks,
// kernels/cuda attention_partial_blocks): the keys of a case cut into blocks
// of random sizes (empty ones included) give the float64 reference of the
// whole, at the f32 path's tolerances, for decode-like and short query
// blocks, every mask, head dims 64 / 80 / 128, and key counts from one key
// to many splits that span several blocks. And Backend::gather_blocks (the
// paged KV store's gather) against the plain concatenation.
#include <cuda_runtime_api.h>

#include <algorithm>

#include "attention_cases.h"
#include "test_util.h"

namespace ringlm::test {
namespace {

// Through the backend, or (grouped) through the kernel entry points with
// the grouped kernel.
AttnResult run_blocks(Backend& g, const AttnCase& c, const AttnData& a, int64_t max_block,
                      kernels::KvType kv, size_t* nblocks = nullptr, bool grouped = false) {
  AttnDevice dev(g, c, a, kv);
  const int64_t row = int64_t(c.hkv) * c.d;
  std::vector<kernels::KeyBlock> blocks;
  for (const auto& [at, n] : random_cuts(c.tk, max_block, uint32_t(c.seed * 3 + 1))) {
    kernels::KeyBlock b;
    b.k = kernels::kv_advance(dev.p.k, at * row, kv);
    b.v = kernels::kv_advance(dev.p.v, at * row, kv);
    b.pos = dev.p.k_pos + at;
    b.n = n;
    blocks.push_back(b);
  }
  if (nblocks) *nblocks = blocks.size();
  kernels::AttentionParams p = dev.p;
  p.k = p.v = nullptr;  // ignored: the blocks carry the keys
  p.k_pos = nullptr;
  p.tk = -1;
  if (!grouped) {
    require_ok(g.attention_partial_blocks(p, blocks.data(), blocks.size()));
    return dev.fetch(g, c);
  }
  int sms = 0;
  REQUIRE(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0) == cudaSuccess);
  const auto plan =
      kernels::cuda::plan_attention_blocks(p, blocks.data(), int(blocks.size()), sms, true);
  REQUIRE(plan.grouped);
  auto ws = g.alloc(std::max<size_t>(plan.workspace_bytes, 256));
  require_ok(ws.status());
  auto stream = static_cast<cudaStream_t>(cuda_backend_stream(g));
  REQUIRE(kernels::cuda::attention_partial_blocks(p, plan, ws->data(), stream) == cudaSuccess);
  return dev.fetch(g, c);
}

TEST_CASE("key blocks equal one call over their concatenation", "[gpu][attention]") {
  Backend& g = cuda_backend();
  REQUIRE(g.has_attention_blocks());
  AttnCase c;
  c.tq = GENERATE(1, 5, 63);
  c.tk = GENERATE(1, 300, 17000);
  c.hq = 8;
  c.hkv = 2;
  c.d = GENERATE(64, 80, 128);
  c.mask = GENERATE(Mask::kCausalSuffix, Mask::kCausalPadded, Mask::kShuffled, Mask::kFuture,
                    Mask::kNonCausal);
  c.zero_q = GENERATE(false, true);
  c.seed = uint32_t(c.tq * 7 + c.tk * 13 + c.d + int(c.mask) * 5 + c.zero_q);
  const int64_t max_block = GENERATE(int64_t(1), int64_t(256), int64_t(5000));
  const kernels::KvType kv = GENERATE(kernels::KvType::kF32, kernels::KvType::kBF16);
  if (max_block == 1 && c.tk > 300) return;  // 17000 one-key blocks add nothing
  // Keep the float64 reference cheap: the long key range with few rows only.
  if (c.tk > 300 && (c.tq > 5 || c.d == 80)) return;
  CAPTURE(c.tq, c.tk, c.d, mask_name(c.mask), c.zero_q, max_block, kernels::kv_type_name(kv));
  const AttnData a = make_attention_data(c);
  size_t nblocks = 0;
  const AttnResult r = run_blocks(g, c, a, max_block, kv, &nblocks);
  CAPTURE(nblocks);
  check_attention(r, a, attention_tol(c, true), "blocks");
  check_attention(run_blocks(g, c, a, max_block, kv, nullptr, true), a, attention_tol(c, true),
                  "grouped blocks");
}

TEST_CASE("no key blocks: every row sees nothing", "[gpu][attention]") {
  Backend& g = cuda_backend();
  AttnCase c;
  c.tq = 3;
  c.tk = 10;
  c.hq = 4;
  c.hkv = 1;
  c.d = 64;
  const AttnData a = make_attention_data(c);
  AttnDevice dev(g, c, a);
  require_ok(g.attention_partial_blocks(dev.p, nullptr, 0));
  const AttnResult r = dev.fetch(g, c);
  for (float x : r.out) CHECK(x == 0.f);
  for (float x : r.lse) CHECK(std::isinf(x));
}

TEST_CASE("bad key blocks are refused", "[gpu][attention]") {
  Backend& g = cuda_backend();
  AttnCase c;
  c.tq = 2;
  c.tk = 4;
  c.hq = 4;
  c.hkv = 2;
  c.d = 64;
  const AttnData a = make_attention_data(c);
  AttnDevice dev(g, c, a);
  kernels::KeyBlock b;
  b.n = 3;  // null pointers
  CHECK(g.attention_partial_blocks(dev.p, &b, 1).code() == StatusCode::kInvalidArgument);
  b = kernels::KeyBlock{dev.p.k, dev.p.v, dev.p.k_pos, -1};
  CHECK(g.attention_partial_blocks(dev.p, &b, 1).code() == StatusCode::kInvalidArgument);
  CHECK(g.attention_partial_blocks(dev.p, nullptr, 2).code() == StatusCode::kInvalidArgument);
  kernels::AttentionParams bad = dev.p;
  bad.hq = 3;
  b.n = 4;
  CHECK(g.attention_partial_blocks(bad, &b, 1).code() == StatusCode::kInvalidArgument);
  bad = dev.p;
  bad.d = 300;
  CHECK(g.attention_partial_blocks(bad, &b, 1).code() == StatusCode::kUnsupported);
}

TEST_CASE("gather_blocks concatenates the blocks", "[gpu][kv]") {
  // Rows of f32 here; the kernel copies bytes (16 at a time when row bytes
  // and pointers allow, else 2), so bf16 rows take the same paths.
  Backend& g = cuda_backend();
  const int64_t row = GENERATE(int64_t(6), int64_t(256));  // 6 floats = 24 bytes: the 2-byte path
  const int64_t total = GENERATE(int64_t(1), int64_t(1000), int64_t(70000));
  const int64_t max_block = GENERATE(int64_t(1), int64_t(300));
  if (max_block == 1 && total > 1000) return;
  CAPTURE(row, total, max_block);
  std::vector<float> k(size_t(total * row)), v(k.size());
  std::vector<int32_t> pos(static_cast<size_t>(total), 0);
  for (size_t i = 0; i < k.size(); ++i) k[i] = float(i), v[i] = -float(i);
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = int32_t(i * 3 + 1);
  Buffer dk = upload(g, k), dv = upload(g, v), dp = upload(g, pos);
  // Blocks in reverse order, so the result is a permutation of the source.
  std::vector<std::pair<int64_t, int64_t>> cuts = random_cuts(total, max_block, uint32_t(total + row));
  std::reverse(cuts.begin(), cuts.end());
  std::vector<kernels::KeyBlock> blocks;
  std::vector<float> want_k, want_v;
  std::vector<int32_t> want_p;
  for (const auto& [at, n] : cuts) {
    blocks.push_back({dk.as<float>() + at * row, dv.as<float>() + at * row, dp.as<int32_t>() + at, n});
    want_k.insert(want_k.end(), k.begin() + at * row, k.begin() + (at + n) * row);
    want_v.insert(want_v.end(), v.begin() + at * row, v.begin() + (at + n) * row);
    want_p.insert(want_p.end(), pos.begin() + at, pos.begin() + at + n);
  }
  Buffer ok = upload(g, std::vector<float>(k.size(), std::nanf(""))), ov = upload(g, std::vector<float>(k.size(), std::nanf("")));
  Buffer op = upload(g, std::vector<int32_t>(pos.size(), -7));
  require_ok(g.gather_blocks(blocks.data(), blocks.size(), row * int64_t(sizeof(float)), ok.data(),
                             ov.data(), op.as<int32_t>()));
  CHECK(download<float>(g, ok.data(), k.size()) == want_k);
  CHECK(download<float>(g, ov.data(), v.size()) == want_v);
  CHECK(download<int32_t>(g, op.data(), pos.size()) == want_p);
}

}  // namespace
}  // namespace ringlm::test
