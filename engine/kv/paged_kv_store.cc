#include "kv/paged_kv_store.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "cpu/convert.h"

namespace ringlm {
namespace {

using kernels::KvType;

// State blobs: "RKV1" (f32 K/V, 4-word header) as older versions wrote them,
// and "RKV2", whose header adds the element type.
constexpr uint32_t kStateMagicF32 = 0x31564B52;  // "RKV1"
constexpr uint32_t kStateMagic = 0x32564B52;     // "RKV2"

// A state blob's header and positions; `data` is the K/V that follows.
struct StateBlob {
  KvType type = KvType::kF32;
  uint32_t layers = 0, kv_heads = 0, head_dim = 0;
  std::vector<int32_t> pos;
  std::span<const uint8_t> data;
};

Result<StateBlob> parse_state(std::span<const uint8_t> blob) {
  uint32_t hdr[5] = {0, 0, 0, 0, uint32_t(KvType::kF32)};
  size_t off = 0;
  auto take = [&](void* dst, size_t bytes) {
    if (blob.size() - off < bytes) return false;
    std::memcpy(dst, blob.data() + off, bytes);
    off += bytes;
    return true;
  };
  if (!take(hdr, 4 * sizeof(uint32_t)) || (hdr[0] != kStateMagic && hdr[0] != kStateMagicF32))
    return CorruptData("kv state: bad header");
  if (hdr[0] == kStateMagic && !take(&hdr[4], sizeof(uint32_t)))
    return CorruptData("kv state: bad header");
  if (hdr[4] != uint32_t(KvType::kF32) && hdr[4] != uint32_t(KvType::kBF16))
    return CorruptData("kv state: unknown K/V element type " + std::to_string(hdr[4]));
  StateBlob s;
  s.type = KvType(hdr[4]);
  s.layers = hdr[1];
  s.kv_heads = hdr[2];
  s.head_dim = hdr[3];
  // Bounded before any arithmetic on them: wrapped products would make the
  // sizes below meaningless (or zero, a divisor).
  constexpr uint32_t kMaxDim = 1u << 16;
  if (s.layers < 1 || s.layers > kMaxDim || s.kv_heads < 1 || s.kv_heads > kMaxDim ||
      s.head_dim < 1 || s.head_dim > kMaxDim)
    return CorruptData("kv state: shape " + std::to_string(s.layers) + " layers x " +
                       std::to_string(s.kv_heads) + " KV heads x " + std::to_string(s.head_dim) +
                       " out of range");
  // Bytes per token: its position and, per layer, a K and a V row.
  const uint64_t row = uint64_t(s.kv_heads) * s.head_dim * kernels::kv_elem_bytes(s.type);
  const uint64_t per_token = sizeof(int32_t) + 2 * row * s.layers;
  int64_t n = 0;
  if (!take(&n, sizeof(n)) || n < 0 || uint64_t(n) > (blob.size() - off) / per_token)
    return CorruptData("kv state: bad token count");
  s.pos.resize(size_t(n));
  if (!take(s.pos.data(), sizeof(int32_t) * size_t(n)))
    return CorruptData("kv state: truncated positions");
  for (int64_t i = 0; i < n; ++i) {
    if (s.pos[i] < 0 || (i > 0 && s.pos[i] <= s.pos[i - 1]))
      return CorruptData("kv state: positions are not increasing non-negative numbers");
  }
  if (blob.size() - off != 2 * row * s.layers * uint64_t(n))
    return CorruptData("kv state: size does not match its token count");
  s.data = blob.subspan(off);
  return s;
}

struct PageMem {
  // Per layer: K [page, hkv, d] then V [page, hkv, d] (KvShape::type);
  // then pos [page] int32.
  Buffer mem;
};
// Pages are shared between sequences that copy() made from one another, and
// copied when one of them is about to write into a shared page
// (copy-on-write): its slots beyond the writer's length may belong to the
// other sequence. Only the rank thread touches them (the count needs no
// lock). The use count is the number of sequences holding a page (it decides
// what a release frees and what a write copies), so a Page is never copied
// except into another sequence's pages.
using Page = std::shared_ptr<PageMem>;

struct Sequence {
  std::vector<Page> pages;
  std::vector<int32_t> pos;  // host copy, slot order
};

class PagedKvStore final : public KvStore {
 public:
  PagedKvStore(Backend& backend, const PagedKvOptions& o)
      : backend_(backend),
        shape_(o.shape),
        page_tokens_(std::max<int64_t>(1, o.page_tokens)),
        budget_(o.budget_bytes) {
    layer_bytes_ = 2 * page_tokens_ * shape_.token_bytes();
    page_bytes_ = size_t(layer_bytes_) * shape_.n_layers + sizeof(int32_t) * page_tokens_;
    const int64_t f32_row = int64_t(sizeof(float)) * std::max<int64_t>(1, shape_.token_elems());
    restore_slice_ = o.restore_slice_tokens > 0
                         ? o.restore_slice_tokens
                         : std::max<int64_t>(1, int64_t(kKvRestoreStagingBytes) / f32_row);
  }

  const KvShape& shape() const override { return shape_; }

  Status create(SeqId seq) override {
    if (seqs_.count(seq))
      return FailedPrecondition("kv sequence " + std::to_string(seq) + " exists");
    seqs_.emplace(seq, Sequence{});
    return Status::Ok();
  }

  Status drop(SeqId seq) override {
    auto it = seqs_.find(seq);
    if (it == seqs_.end()) return NotFound("kv sequence " + std::to_string(seq) + " not found");
    release_pages(it->second, 0);
    seqs_.erase(it);
    return Status::Ok();
  }

  bool contains(SeqId seq) const override { return seqs_.count(seq) != 0; }

  int64_t length(SeqId seq) const override {
    auto it = seqs_.find(seq);
    return it == seqs_.end() ? 0 : int64_t(it->second.pos.size());
  }

  std::vector<int32_t> positions(SeqId seq) const override {
    auto it = seqs_.find(seq);
    return it == seqs_.end() ? std::vector<int32_t>{} : it->second.pos;
  }

  Result<int64_t> append(SeqId seq, const int32_t* pos, int64_t n) override {
    RINGLM_ASSIGN_OR_RETURN(Sequence * s, find(seq));
    if (n < 0) return InvalidArgument("kv append: negative count");
    const int64_t first = int64_t(s->pos.size());
    const int64_t need_pages = (first + n + page_tokens_ - 1) / page_tokens_;
    const int64_t new_pages = std::max<int64_t>(0, need_pages - int64_t(s->pages.size()));
    // The page the new slots start in, when it holds older slots too and
    // another sequence shares it, is copied before it is written.
    const int64_t partial = first % page_tokens_ != 0 && n > 0 ? first / page_tokens_ : -1;
    const bool unshare = partial >= 0 && shared_pages(*s, partial, partial) > 0;
    RINGLM_RETURN_IF_ERROR(
        room_for(new_pages + (unshare ? 1 : 0), std::to_string(n) + " more tokens need"));
    // Nothing changes unless every page comes.
    std::vector<Page> added;
    Page own;
    const auto give_back = [&](const Status& st) {
      used_ -= added.size() * page_bytes_;
      return st;
    };
    for (int64_t i = 0; i < new_pages; ++i) {
      Result<Page> p = new_page();
      if (!p.ok()) return give_back(p.status());
      added.push_back(std::move(*p));
    }
    if (unshare) {
      Result<Page> p = copy_page(*s->pages[size_t(partial)]);
      if (!p.ok()) return give_back(p.status());
      own = std::move(*p);
    }
    if (own) s->pages[size_t(partial)] = std::move(own);  // the other sequences keep the old one
    for (auto& p : added) s->pages.push_back(std::move(p));
    s->pos.insert(s->pos.end(), pos, pos + n);
    // Mirror positions into each touched page's backend memory.
    for (int64_t t = first; t < first + n;) {
      const int64_t page = t / page_tokens_, off = t % page_tokens_;
      const int64_t run = std::min(page_tokens_ - off, first + n - t);
      RINGLM_RETURN_IF_ERROR(backend_.copy_from_host(page_pos(*s->pages[page]) + off,
                                                     pos + (t - first), sizeof(int32_t) * run));
      t += run;
    }
    return first;
  }

  Status write(SeqId seq, int layer, int64_t first, const float* k, const float* v,
               int64_t n) override {
    RINGLM_ASSIGN_OR_RETURN(Sequence * s, find(seq));
    if (layer < 0 || layer >= shape_.n_layers) return InvalidArgument("kv write: bad layer");
    if (first < 0 || n < 0 || first + n > int64_t(s->pos.size()))
      return OutOfRange("kv write: slots outside the appended range");
    // append() leaves the pages of new slots unshared; slots written again
    // after a copy() may not be, and get pages of their own first: all of
    // them or, when the budget lacks room, none.
    const int64_t p0 = first / page_tokens_, p1 = n > 0 ? (first + n - 1) / page_tokens_ : p0 - 1;
    RINGLM_RETURN_IF_ERROR(room_for(shared_pages(*s, p0, p1), "a write into shared slots needs"));
    for (int64_t p = p0; p <= p1; ++p) {
      if (s->pages[size_t(p)].use_count() == 1) continue;
      RINGLM_ASSIGN_OR_RETURN(Page own, copy_page(*s->pages[size_t(p)]));
      s->pages[size_t(p)] = std::move(own);
    }
    const int64_t te = shape_.token_elems();
    for (int64_t t = first; t < first + n;) {
      const int64_t page = t / page_tokens_, off = t % page_tokens_;
      const int64_t run = std::min(page_tokens_ - off, first + n - t);
      void* base = page_k(*s->pages[page], layer);
      RINGLM_RETURN_IF_ERROR(backend_.store_kv(k + (t - first) * te,
                                               kernels::kv_advance(base, off * te, shape_.type),
                                               shape_.type, run * te));
      RINGLM_RETURN_IF_ERROR(backend_.store_kv(
          v + (t - first) * te, kernels::kv_advance(base, (page_tokens_ + off) * te, shape_.type),
          shape_.type, run * te));
      t += run;
    }
    return Status::Ok();
  }

  Status truncate(SeqId seq, int64_t n) override {
    RINGLM_ASSIGN_OR_RETURN(Sequence * s, find(seq));
    if (n < 0 || n > int64_t(s->pos.size())) return OutOfRange("kv truncate: bad length");
    s->pos.resize(n);
    release_pages(*s, size_t((n + page_tokens_ - 1) / page_tokens_));
    return Status::Ok();
  }

  Status copy(SeqId src, SeqId dst, int64_t n) override {
    RINGLM_ASSIGN_OR_RETURN(Sequence * s, find(src));
    if (contains(dst)) return FailedPrecondition("kv sequence " + std::to_string(dst) + " exists");
    if (n < 0) return InvalidArgument("kv copy: negative length");
    const int64_t len = std::min(n, int64_t(s->pos.size()));
    const size_t pages = size_t((len + page_tokens_ - 1) / page_tokens_);
    Sequence copy;
    copy.pos.assign(s->pos.begin(), s->pos.begin() + len);
    // The pages themselves are shared: no memory until one side writes.
    copy.pages.assign(s->pages.begin(), s->pages.begin() + pages);
    seqs_.emplace(dst, std::move(copy));
    return Status::Ok();
  }

  std::vector<KvSpan> spans(SeqId seq, int layer) const override {
    std::vector<KvSpan> out;
    auto it = seqs_.find(seq);
    if (it == seqs_.end() || layer < 0 || layer >= shape_.n_layers) return out;
    const Sequence& s = it->second;
    const int64_t len = int64_t(s.pos.size()), te = shape_.token_elems();
    for (size_t p = 0; p < s.pages.size(); ++p) {
      const int64_t n = std::min(page_tokens_, len - int64_t(p) * page_tokens_);
      if (n <= 0) break;
      const void* k = page_k(*s.pages[p], layer);
      out.push_back(KvSpan{k, kernels::kv_advance(k, page_tokens_ * te, shape_.type),
                           page_pos(*s.pages[p]), n});
    }
    return out;
  }

  Status gather(SeqId seq, int layer, void* k, void* v, int32_t* pos, int64_t cap) const override {
    auto it = seqs_.find(seq);
    if (it == seqs_.end()) return NotFound("kv sequence " + std::to_string(seq) + " not found");
    const int64_t len = int64_t(it->second.pos.size()), tb = shape_.token_bytes();
    if (len > cap) return OutOfRange("kv gather: sequence longer than the buffer");
    const std::vector<KvSpan> sp = spans(seq, layer);
    RINGLM_RETURN_IF_ERROR(backend_.gather_blocks(sp.data(), sp.size(), tb, k, v, pos));
    if (cap > len) {
      RINGLM_RETURN_IF_ERROR(
          backend_.zero(static_cast<char*>(k) + len * tb, size_t((cap - len) * tb)));
      RINGLM_RETURN_IF_ERROR(
          backend_.zero(static_cast<char*>(v) + len * tb, size_t((cap - len) * tb)));
      std::vector<int32_t> pad(cap - len, -1);
      RINGLM_RETURN_IF_ERROR(
          backend_.copy_from_host(pos + len, pad.data(), sizeof(int32_t) * pad.size()));
    }
    return Status::Ok();
  }

  size_t bytes_used() const override { return used_; }
  size_t budget_bytes() const override { return budget_; }
  size_t bytes_per_token() const override { return page_bytes_; }
  int64_t page_tokens() const override { return page_tokens_; }
  int64_t capacity_tokens() const override {
    return int64_t(budget_ / page_bytes_) * page_tokens_;
  }

  Status write_state(SeqId seq, std::vector<uint8_t>* out) const override {
    auto it = seqs_.find(seq);
    if (it == seqs_.end()) return NotFound("kv sequence " + std::to_string(seq) + " not found");
    const Sequence& s = it->second;
    const int64_t n = int64_t(s.pos.size()), tb = shape_.token_bytes();
    const uint32_t hdr[5] = {kStateMagic, uint32_t(shape_.n_layers), uint32_t(shape_.n_kv_heads),
                             uint32_t(shape_.head_dim), uint32_t(shape_.type)};
    // Sized once: a blob grown by doubling would peak at twice the shard
    // (and copy it on every growth).
    out->clear();
    out->reserve(sizeof(hdr) + sizeof(n) + sizeof(int32_t) * size_t(n) +
                 2 * size_t(shape_.n_layers) * size_t(n * tb));
    put(out, hdr, sizeof(hdr));
    put(out, &n, sizeof(n));
    put(out, s.pos.data(), sizeof(int32_t) * n);
    for (int l = 0; l < shape_.n_layers; ++l) {
      for (int which = 0; which < 2; ++which) {
        for (const KvSpan& sp : spans(seq, l)) {
          const size_t at = out->size(), bytes = size_t(sp.n * tb);
          out->resize(at + bytes);
          RINGLM_RETURN_IF_ERROR(
              backend_.copy_to_host(out->data() + at, which ? sp.v : sp.k, bytes));
        }
      }
    }
    return Status::Ok();
  }

  Status read_state(SeqId seq, std::span<const uint8_t> blob) override {
    if (contains(seq)) return FailedPrecondition("kv sequence " + std::to_string(seq) + " exists");
    RINGLM_ASSIGN_OR_RETURN(StateBlob s, parse_state(blob));
    if (int64_t(s.layers) != shape_.n_layers || int64_t(s.kv_heads) != shape_.n_kv_heads ||
        int64_t(s.head_dim) != shape_.head_dim)
      return CorruptData("kv state: shape does not match this model");
    RINGLM_RETURN_IF_ERROR(create(seq));
    Status st = restore_tokens(seq, s.pos, s.type, s.data);
    if (!st.ok()) (void)drop(seq);
    return st;
  }

 private:
  // Appends the tokens and writes every layer's K/V from `data` (elements of
  // `type`), widened to f32 on the host and stored through write(), which
  // converts to this store's type (bf16 -> f32 -> bf16 is exact). Staged
  // restore_slice_ tokens at a time: a whole layer of a long shard as f32
  // could be far more than the store's own pages in bf16.
  Status restore_tokens(SeqId seq, const std::vector<int32_t>& pos, KvType type,
                        std::span<const uint8_t> data) {
    const int64_t n = int64_t(pos.size()), te = shape_.token_elems();
    RINGLM_ASSIGN_OR_RETURN(int64_t first, append(seq, pos.data(), n));
    const int64_t slice = std::max<int64_t>(1, std::min(n, restore_slice_));
    const size_t floats = size_t(slice * te);
    RINGLM_ASSIGN_OR_RETURN(Buffer kb, backend_.alloc(sizeof(float) * floats));
    RINGLM_ASSIGN_OR_RETURN(Buffer vb, backend_.alloc(sizeof(float) * floats));
    const size_t elem = kernels::kv_elem_bytes(type);
    const size_t part_bytes = size_t(n * te) * elem;  // one layer's K (or V) in the blob
    std::vector<float> wide(type == KvType::kBF16 ? floats : 0);
    std::vector<uint16_t> narrow(type == KvType::kBF16 ? floats : 0);
    for (int l = 0; l < shape_.n_layers; ++l) {
      for (int64_t t = 0; t < n; t += slice) {
        const int64_t m = std::min(slice, n - t);  // [m, hkv, d]
        for (int which = 0; which < 2; ++which) {
          const uint8_t* src = data.data() + (2 * l + which) * part_bytes + size_t(t * te) * elem;
          Buffer& dst = which ? vb : kb;
          if (type == KvType::kBF16) {  // the blob may be unaligned: copy out first
            std::memcpy(narrow.data(), src, size_t(m * te) * elem);
            kernels::cpu::bf16_to_f32(narrow.data(), wide.data(), m * te);
            src = reinterpret_cast<const uint8_t*>(wide.data());
          }
          RINGLM_RETURN_IF_ERROR(backend_.copy_from_host(dst.data(), src, sizeof(float) * m * te));
        }
        RINGLM_RETURN_IF_ERROR(write(seq, l, first + t, kb.as<float>(), vb.as<float>(), m));
      }
    }
    return Status::Ok();
  }

  static void put(std::vector<uint8_t>* out, const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out->insert(out->end(), b, b + n);
  }

  // kResourceExhausted unless `pages` more pages fit the budget; `need`
  // says what for ("... needs").
  Status room_for(int64_t pages, const std::string& need) const {
    if (pages <= 0 || used_ + size_t(pages) * page_bytes_ <= budget_) return Status::Ok();
    return ResourceExhausted("kv budget of " + std::to_string(budget_) + " bytes exhausted (" +
                             std::to_string(used_) + " used, " + need + " " +
                             std::to_string(pages) + " pages of " + std::to_string(page_bytes_) +
                             " bytes)");
  }

  // How many of pages [p0, p1] of `s` another sequence holds too.
  static int64_t shared_pages(const Sequence& s, int64_t p0, int64_t p1) {
    int64_t k = 0;
    for (int64_t p = p0; p <= p1; ++p) k += s.pages[size_t(p)].use_count() > 1 ? 1 : 0;
    return k;
  }

  // A fresh page, counted in the budget (which the caller checked).
  Result<Page> new_page() {
    RINGLM_ASSIGN_OR_RETURN(Buffer mem, backend_.alloc(page_bytes_));
    used_ += page_bytes_;
    return std::make_shared<PageMem>(PageMem{std::move(mem)});
  }

  // A page of its own with the contents of `from` (copy-on-write).
  Result<Page> copy_page(const PageMem& from) {
    RINGLM_ASSIGN_OR_RETURN(Page p, new_page());
    if (Status st = backend_.copy(p->mem.data(), from.mem.data(), page_bytes_); !st.ok()) {
      used_ -= page_bytes_;
      return st;
    }
    return p;
  }

  // Keeps the sequence's first `keep` pages; a page released by its last
  // sequence leaves the budget.
  void release_pages(Sequence& s, size_t keep) {
    for (size_t p = keep; p < s.pages.size(); ++p) {
      if (s.pages[p].use_count() == 1) used_ -= page_bytes_;
    }
    if (keep < s.pages.size()) s.pages.resize(keep);
  }

  Result<Sequence*> find(SeqId seq) {
    auto it = seqs_.find(seq);
    if (it == seqs_.end()) return NotFound("kv sequence " + std::to_string(seq) + " not found");
    return &it->second;
  }

  void* page_k(const PageMem& p, int layer) const { return p.mem.as<char>() + layer * layer_bytes_; }
  int32_t* page_pos(const PageMem& p) const {
    return reinterpret_cast<int32_t*>(p.mem.as<char>() + shape_.n_layers * layer_bytes_);
  }

  Backend& backend_;
  KvShape shape_;
  int64_t page_tokens_;
  size_t budget_;
  int64_t restore_slice_ = 1;  // tokens read_state() stages at a time
  int64_t layer_bytes_ = 0;  // K and V bytes of one layer in one page
  size_t page_bytes_ = 0;
  size_t used_ = 0;  // bytes of the distinct pages held
  std::map<SeqId, Sequence> seqs_;
};

}  // namespace

std::unique_ptr<KvStore> make_paged_kv_store(Backend& backend, const PagedKvOptions& opts) {
  return std::make_unique<PagedKvStore>(backend, opts);
}

Result<std::vector<int32_t>> paged_kv_state_positions(std::span<const uint8_t> blob) {
  RINGLM_ASSIGN_OR_RETURN(StateBlob s, parse_state(blob));
  return std::move(s.pos);
}

}  // namespace ringlm
