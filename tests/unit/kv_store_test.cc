// PagedKvStore with f32 and bf16 K/V: what write() stores, the spans and the
// gather (padding included), truncation, copies sharing pages until written
// (copy on write), the byte budget, and state blobs
// (round trips, conversion between element types, the older f32-only format,
// corrupt blobs).
#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "kv/paged_kv_store.h"
#include "reference_attention.h"
#include "test_util.h"

using namespace ringlm;
using kernels::KvType;

namespace {

constexpr int kLayers = 2, kHeads = 2, kDim = 8;
constexpr int64_t kRow = int64_t(kHeads) * kDim;

std::unique_ptr<KvStore> make_store(Backend& be, KvType type, int64_t page = 4,
                                    size_t budget = size_t(1) << 30, int64_t restore_slice = 0) {
  PagedKvOptions o;
  o.restore_slice_tokens = restore_slice;
  o.shape = KvShape{kLayers, kHeads, kDim, type};
  o.page_tokens = page;
  o.budget_bytes = budget;
  return make_paged_kv_store(be, o);
}

// Appends n tokens at positions first_pos.. and writes every layer's K/V:
// layer l's K = base + l, V = -(base + l), base from random floats.
void fill(KvStore& kv, SeqId seq, int64_t n, int32_t first_pos, std::vector<float>* k_all,
          uint32_t seed) {
  std::vector<int32_t> pos(n);
  for (int64_t i = 0; i < n; ++i) pos[i] = first_pos + int32_t(i);
  auto first = kv.append(seq, pos.data(), n);
  REQUIRE(first.ok());
  const std::vector<float> base = test::random_floats(size_t(n * kRow), seed, -3.f, 3.f);
  for (int l = 0; l < kLayers; ++l) {
    std::vector<float> k(base), v(base);
    for (float& x : k) x += float(l);
    for (float& x : v) x = -(x + float(l));
    REQUIRE(kv.write(seq, l, *first, k.data(), v.data(), n).ok());
    if (l == 0) k_all->insert(k_all->end(), k.begin(), k.end());
  }
}

// Layer 0's K from the spans, as f32.
std::vector<float> layer0_k(const KvStore& kv, SeqId seq) {
  std::vector<float> out;
  for (const KvSpan& sp : kv.spans(seq, 0))
    for (int64_t i = 0; i < sp.n * kRow; ++i)
      out.push_back(test::kv_element(sp.k, i, kv.shape().type));
  return out;
}

}  // namespace

TEST_CASE("kv store holds K/V in its element type", "[kv]") {
  const KvType type = GENERATE(KvType::kF32, KvType::kBF16);
  CAPTURE(kernels::kv_type_name(type));
  auto be = make_cpu_backend({1});
  auto kv = make_store(*be, type);
  REQUIRE(kv->create(1).ok());
  std::vector<float> k_all;
  fill(*kv, 1, 6, 100, &k_all, 1);
  fill(*kv, 1, 5, 200, &k_all, 2);
  REQUIRE(kv->length(1) == 11);
  // Pages of 4 tokens: K/V and positions of each, bytes by element type.
  CHECK(kv->bytes_per_token() ==
        size_t(kLayers) * 2 * 4 * kRow * kernels::kv_elem_bytes(type) + 4 * sizeof(int32_t));
  CHECK(kv->bytes_used() == 3 * kv->bytes_per_token());
  CHECK(kv->spans(1, 0).size() == 3);

  std::vector<float> want(k_all.size());
  for (size_t i = 0; i < want.size(); ++i) want[i] = test::kv_stored(k_all[i], type);
  CHECK(layer0_k(*kv, 1) == want);

  // Gather into a padded buffer: tokens in slot order, then zero K/V and pos -1.
  const int64_t cap = 14;
  const size_t tb = size_t(kv->shape().token_bytes());
  std::vector<uint8_t> kb(cap * tb, 0xAB), vb(cap * tb, 0xAB);
  std::vector<int32_t> pos(cap, 7);
  REQUIRE(kv->gather(1, 1, kb.data(), vb.data(), pos.data(), cap).ok());
  for (int64_t i = 0; i < 11; ++i) CHECK(pos[i] == (i < 6 ? 100 + i : 200 + i - 6));
  for (int64_t i = 11; i < cap; ++i) CHECK(pos[i] == -1);
  for (int64_t e = 0; e < 11 * kRow; ++e) {
    CHECK(test::kv_element(kb.data(), e, type) ==
          test::kv_stored(k_all[e] + 1.f, type));  // layer 1: base + 1
    CHECK(test::kv_element(vb.data(), e, type) == -test::kv_element(kb.data(), e, type));
  }
  for (size_t b = 11 * tb; b < kb.size(); ++b) REQUIRE((kb[b] == 0 && vb[b] == 0));
  CHECK(kv->gather(1, 0, kb.data(), vb.data(), pos.data(), 10).code() == StatusCode::kOutOfRange);

  // Truncate keeps the first tokens and frees whole pages.
  REQUIRE(kv->truncate(1, 5).ok());
  CHECK(kv->length(1) == 5);
  CHECK(kv->bytes_used() == 2 * kv->bytes_per_token());
  want.resize(5 * kRow);
  CHECK(layer0_k(*kv, 1) == want);
}

// Whether every page of `a`'s layer-0 spans is `b`'s too (shared memory).
bool same_pages(const KvStore& kv, SeqId a, SeqId b, size_t pages) {
  const auto x = kv.spans(a, 0), y = kv.spans(b, 0);
  if (x.size() < pages || y.size() < pages) return false;
  for (size_t i = 0; i < pages; ++i)
    if (x[i].k != y[i].k || x[i].pos != y[i].pos) return false;
  return true;
}

TEST_CASE("a copied sequence is the source's twin, and grows apart from it", "[kv]") {
  const KvType type = GENERATE(KvType::kF32, KvType::kBF16);
  CAPTURE(kernels::kv_type_name(type));
  auto be = make_cpu_backend({1});
  auto probe = make_store(*be, type);
  const size_t page = probe->bytes_per_token();
  auto kv = make_store(*be, type, 4, 5 * page);  // five pages
  REQUIRE(kv->create(1).ok());
  std::vector<float> k_all;
  fill(*kv, 1, 6, 10, &k_all, 3);  // two pages, the second half full
  const std::vector<float> before = layer0_k(*kv, 1);

  // The copy shares the source's pages: no memory of its own.
  REQUIRE(kv->copy(1, 2).ok());
  CHECK(kv->bytes_used() == 2 * page);
  CHECK(kv->positions(2) == kv->positions(1));
  CHECK(layer0_k(*kv, 2) == before);
  CHECK(same_pages(*kv, 1, 2, 2));

  // An append into the shared, half-full page gives the copy a page of its
  // own first (copy on write); the full first page stays shared.
  std::vector<float> k_more;
  fill(*kv, 2, 1, 16, &k_more, 4);
  CHECK(kv->bytes_used() == 3 * page);
  CHECK(same_pages(*kv, 1, 2, 1));
  CHECK_FALSE(same_pages(*kv, 1, 2, 2));
  CHECK(kv->positions(1) == std::vector<int32_t>{10, 11, 12, 13, 14, 15});
  CHECK(layer0_k(*kv, 1) == before);
  std::vector<float> grown = before;
  grown.insert(grown.end(), k_more.begin(), k_more.end());
  for (size_t i = before.size(); i < grown.size(); ++i) grown[i] = test::kv_stored(grown[i], type);
  CHECK(layer0_k(*kv, 2) == grown);

  // The source grows apart too: its half-full page is its own already.
  std::vector<float> k_src;
  fill(*kv, 1, 1, 16, &k_src, 6);
  CHECK(kv->bytes_used() == 3 * page);
  CHECK(layer0_k(*kv, 2) == grown);

  // Truncating the copy into the shared first page and appending there
  // copies that page too; the source keeps its tokens.
  REQUIRE(kv->truncate(2, 3).ok());
  CHECK(kv->bytes_used() == 2 * page);  // the copy's own second page is gone
  fill(*kv, 2, 2, 40, &k_more, 7);
  CHECK(kv->bytes_used() == 4 * page);
  CHECK_FALSE(same_pages(*kv, 1, 2, 1));
  CHECK(kv->positions(2) == std::vector<int32_t>{10, 11, 12, 40, 41});
  CHECK(kv->positions(1) == std::vector<int32_t>{10, 11, 12, 13, 14, 15, 16});
  std::vector<float> src_now = before;
  for (float x : k_src) src_now.push_back(test::kv_stored(x, type));
  CHECK(layer0_k(*kv, 1) == src_now);

  // Dropping the source frees only what no other sequence holds.
  REQUIRE(kv->copy(1, 3).ok());
  CHECK(kv->bytes_used() == 4 * page);
  REQUIRE(kv->drop(1).ok());
  CHECK(kv->bytes_used() == 4 * page);  // sequence 3 holds the source's pages
  CHECK(layer0_k(*kv, 3) == src_now);
  REQUIRE(kv->drop(3).ok());
  CHECK(kv->bytes_used() == 2 * page);

  // A write into a shared slot (no append) copies the page first.
  REQUIRE(kv->copy(2, 8, 4).ok());
  const std::vector<float> two = layer0_k(*kv, 2);
  std::vector<float> zk(size_t(kRow), 0.f), zv(size_t(kRow), 0.f);
  REQUIRE(kv->write(8, 0, 1, zk.data(), zv.data(), 1).ok());
  CHECK(kv->bytes_used() == 3 * page);
  CHECK(layer0_k(*kv, 2) == two);
  const std::vector<float> eight = layer0_k(*kv, 8);
  CHECK(std::vector<float>(eight.begin() + kRow, eight.begin() + 2 * kRow) == zk);
  REQUIRE(kv->drop(8).ok());

  // Errors change nothing.
  CHECK(kv->copy(1, 3).code() == StatusCode::kNotFound);
  REQUIRE(kv->create(4).ok());
  CHECK(kv->copy(2, 4).code() == StatusCode::kFailedPrecondition);
  CHECK(kv->length(4) == 0);
  REQUIRE(kv->drop(4).ok());

  // A full budget still takes a copy; the copy's first write into a shared
  // page needs a page and is refused, changing nothing.
  fill(*kv, 2, 10, 50, &k_more, 5);  // 15 tokens: four pages
  REQUIRE(kv->create(6).ok());
  fill(*kv, 6, 2, 0, &k_more, 8);  // the fifth page
  CHECK(kv->bytes_used() == 5 * page);
  REQUIRE(kv->copy(2, 5).ok());
  CHECK(kv->bytes_used() == 5 * page);
  const std::vector<float> five = layer0_k(*kv, 5);
  const int32_t next = 99;
  CHECK(kv->append(5, &next, 1).status().code() == StatusCode::kResourceExhausted);
  CHECK(kv->length(5) == 15);
  CHECK(kv->write(5, 0, 0, zk.data(), zv.data(), 1).code() == StatusCode::kResourceExhausted);
  CHECK(layer0_k(*kv, 5) == five);
  CHECK(layer0_k(*kv, 2) == five);
  CHECK(kv->bytes_used() == 5 * page);
  // Once the source is gone its pages are the copy's alone: no copy needed.
  REQUIRE(kv->drop(2).ok());
  CHECK(kv->append(5, &next, 1).ok());
  CHECK(kv->bytes_used() == 5 * page);
}

TEST_CASE("a write into shared pages copies all of them or none", "[kv]") {
  auto be = make_cpu_backend({1});
  const size_t page = make_store(*be, KvType::kF32)->bytes_per_token();
  auto kv = make_store(*be, KvType::kF32, 4, 5 * page);
  REQUIRE(kv->create(1).ok());
  std::vector<float> k_all;
  fill(*kv, 1, 8, 0, &k_all, 9);  // two full pages
  REQUIRE(kv->copy(1, 2).ok());
  REQUIRE(kv->create(3).ok());
  fill(*kv, 3, 8, 0, &k_all, 10);  // two more: room for one page left
  const std::vector<float> before = layer0_k(*kv, 2);
  std::vector<float> z(size_t(2 * kRow), 0.f);
  // Slots 3 and 4 lie in both shared pages: two copies, room for one.
  CHECK(kv->write(2, 0, 3, z.data(), z.data(), 2).code() == StatusCode::kResourceExhausted);
  CHECK(kv->bytes_used() == 4 * page);
  CHECK(same_pages(*kv, 1, 2, 2));
  CHECK(layer0_k(*kv, 2) == before);
  // With room for both it writes, and the source keeps its values.
  REQUIRE(kv->drop(3).ok());
  REQUIRE(kv->write(2, 0, 3, z.data(), z.data(), 2).ok());
  CHECK(kv->bytes_used() == 4 * page);
  CHECK_FALSE(same_pages(*kv, 1, 2, 1));
  CHECK(layer0_k(*kv, 1) == before);
  const std::vector<float> two = layer0_k(*kv, 2);
  CHECK(std::vector<float>(two.begin() + 3 * kRow, two.begin() + 5 * kRow) == z);
}

TEST_CASE("a bf16 store fits twice the tokens of an f32 one in a budget", "[kv]") {
  auto be = make_cpu_backend({1});
  auto f32 = make_store(*be, KvType::kF32, 4);
  const size_t budget = 4 * f32->bytes_per_token();  // four f32 pages
  int64_t fits[2] = {0, 0};
  for (KvType type : {KvType::kF32, KvType::kBF16}) {
    auto kv = make_store(*be, type, 4, budget);
    REQUIRE(kv->create(9).ok());
    while (true) {
      const int32_t at = int32_t(kv->length(9));
      auto r = kv->append(9, &at, 1);
      if (!r.ok()) {
        CHECK(r.status().code() == StatusCode::kResourceExhausted);
        break;
      }
    }
    fits[int(type)] = kv->length(9);
    CHECK(kv->capacity_tokens() == fits[int(type)]);  // what it says it holds, it holds
  }
  CHECK(fits[0] == 16);
  CHECK(fits[1] >= 2 * fits[0] - 4);  // the position arrays do not halve
}

TEST_CASE("kv state blobs round-trip and convert between element types", "[kv]") {
  const KvType from = GENERATE(KvType::kF32, KvType::kBF16);
  const KvType to = GENERATE(KvType::kF32, KvType::kBF16);
  // read_state stages K/V a slice of tokens at a time: all 9 at once (the
  // default), or slices of 2 and 4 that end off the pages of 3 tokens.
  const int64_t slice = GENERATE(0, 2, 4);
  CAPTURE(kernels::kv_type_name(from), kernels::kv_type_name(to), slice);
  auto be = make_cpu_backend({1});
  auto src = make_store(*be, from);
  REQUIRE(src->create(3).ok());
  std::vector<float> k_all;
  fill(*src, 3, 9, 40, &k_all, 5);
  std::vector<uint8_t> blob;
  REQUIRE(src->write_state(3, &blob).ok());
  auto dst = make_store(*be, to, 3, size_t(1) << 30, slice);  // another page size too
  REQUIRE(dst->read_state(3, blob).ok());
  CHECK(dst->positions(3) == src->positions(3));
  // f32 -> bf16 rounds once; bf16 -> f32 is exact; same type is identity.
  std::vector<float> want(k_all.size());
  for (size_t i = 0; i < want.size(); ++i)
    want[i] = test::kv_stored(test::kv_stored(k_all[i], from), to);
  CHECK(layer0_k(*dst, 3) == want);
  if (from == to) {
    std::vector<uint8_t> again;
    REQUIRE(dst->write_state(3, &again).ok());
    CHECK(again == blob);
  }
  CHECK(dst->read_state(3, blob).code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("kv state: the older f32 format is read; corrupt blobs are refused", "[kv]") {
  auto be = make_cpu_backend({1});
  auto src = make_store(*be, KvType::kF32);
  REQUIRE(src->create(1).ok());
  std::vector<float> k_all;
  fill(*src, 1, 5, 0, &k_all, 8);
  std::vector<uint8_t> blob;
  REQUIRE(src->write_state(1, &blob).ok());

  // "RKV1": the same layout without the element type word.
  std::vector<uint8_t> v1(blob);
  const uint32_t magic_v1 = 0x31564B52;
  std::memcpy(v1.data(), &magic_v1, 4);
  v1.erase(v1.begin() + 16, v1.begin() + 20);
  for (KvType type : {KvType::kF32, KvType::kBF16}) {
    auto dst = make_store(*be, type);
    REQUIRE(dst->read_state(1, v1).ok());
    CHECK(dst->length(1) == 5);
  }

  auto dst = make_store(*be, KvType::kBF16);
  std::vector<uint8_t> bad(blob);
  bad[16] = 7;  // unknown element type
  CHECK(dst->read_state(1, bad).code() == StatusCode::kCorruptData);
  bad = blob;
  bad.pop_back();
  CHECK(dst->read_state(1, bad).code() == StatusCode::kCorruptData);
  bad = blob;
  bad[4] = 9;  // layers
  CHECK(dst->read_state(1, bad).code() == StatusCode::kCorruptData);
  // A shape whose bytes per token wrap to zero (bf16: 2 * (2^31-1) * (2^31+1)
  // * 2 B per layer) is refused, not divided by.
  bad = blob;
  const uint32_t wraps[4] = {1, 0x7fffffffu, 0x80000001u, uint32_t(KvType::kBF16)};
  std::memcpy(bad.data() + 4, wraps, sizeof(wraps));
  CHECK(dst->read_state(1, bad).code() == StatusCode::kCorruptData);
  CHECK(paged_kv_state_positions(bad).status().code() == StatusCode::kCorruptData);
  for (int field = 1; field <= 3; ++field) {  // a zero layer count, head count or head size
    bad = blob;
    std::memset(bad.data() + 4 * field, 0, 4);
    CHECK(paged_kv_state_positions(bad).status().code() == StatusCode::kCorruptData);
  }
  CHECK(dst->read_state(1, std::vector<uint8_t>(3, 0)).code() == StatusCode::kCorruptData);
  CHECK(!dst->contains(1));  // nothing half-restored
}
