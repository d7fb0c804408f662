#include "tokenizer/bpe.h"

#include <queue>

#include "tokenizer/unicode.h"

namespace ringlm {

Result<std::unique_ptr<BpeEncoder>> BpeEncoder::Create(
    const std::vector<std::string>& tokens,
    const std::unordered_map<std::string, int32_t>& token_ids,
    const std::vector<std::string>& merges, bool ignore_merges) {
  std::unique_ptr<BpeEncoder> enc(new BpeEncoder());
  enc->token_ids_ = &token_ids;
  enc->ignore_merges_ = ignore_merges;
  for (int b = 0; b < 256; ++b) {
    auto it = token_ids.find(std::string(unicode::byte_to_unicode(static_cast<uint8_t>(b))));
    enc->byte_token_[b] = it == token_ids.end() ? -1 : it->second;
  }
  enc->merges_.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& m = merges[i];
    // The left part may itself start with a space, hence the search from 1.
    const size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
    if (sp == std::string::npos || sp + 1 >= m.size()) {
      return CorruptData("merge " + std::to_string(i) + " '" + m + "' is not 'left right'");
    }
    const std::string left = m.substr(0, sp), right = m.substr(sp + 1);
    auto l = token_ids.find(left), r = token_ids.find(right), res = token_ids.find(left + right);
    if (l == token_ids.end() || r == token_ids.end() || res == token_ids.end()) {
      return CorruptData("merge " + std::to_string(i) + " '" + m +
                         "' refers to a token missing from the vocabulary");
    }
    // The first occurrence of a pair keeps its rank.
    enc->merges_.emplace(pair_key(l->second, r->second),
                         Merge{static_cast<int32_t>(i), res->second});
  }
  return enc;
}

void BpeEncoder::encode_word(std::string_view word, std::vector<int32_t>* out) const {
  if (word.empty()) return;
  const bool cacheable = word.size() <= kCacheMaxWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(std::string(word));
    if (it != cache_.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  if (ignore_merges_) {
    std::string encoded;
    for (char c : word) encoded += unicode::byte_to_unicode(static_cast<uint8_t>(c));
    if (auto it = token_ids_->find(encoded); it != token_ids_->end()) ids.push_back(it->second);
  }
  if (ids.empty()) merge_word(word, &ids);
  out->insert(out->end(), ids.begin(), ids.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kCacheMaxEntries) cache_.clear();
    cache_.emplace(std::string(word), std::move(ids));
  }
}

void BpeEncoder::merge_word(std::string_view word, std::vector<int32_t>* out) const {
  // Symbols form a doubly linked list over the word's bytes; a merged-away
  // symbol gets id -1.
  struct Symbol {
    int32_t id;
    int prev, next;
  };
  std::vector<Symbol> sym;
  sym.reserve(word.size());
  for (char c : word) {
    const int32_t id = byte_token_[static_cast<uint8_t>(c)];
    if (id < 0) continue;  // no token for this byte: dropped
    const int n = static_cast<int>(sym.size());
    sym.push_back({id, n - 1, n + 1});
  }
  if (sym.empty()) return;
  sym.back().next = -1;

  struct Candidate {
    int32_t rank;
    int left;
    int32_t left_id, right_id;
    bool operator<(const Candidate& o) const {  // priority_queue pops the largest
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  std::priority_queue<Candidate> queue;
  auto consider = [&](int left) {
    if (left < 0) return;
    const int right = sym[left].next;
    if (right < 0) return;
    auto it = merges_.find(pair_key(sym[left].id, sym[right].id));
    if (it != merges_.end()) queue.push({it->second.rank, left, sym[left].id, sym[right].id});
  };
  for (int i = 0; i + 1 < static_cast<int>(sym.size()); ++i) consider(i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& l = sym[c.left];
    // Stale when either side changed since the candidate was queued (ids
    // only ever grow into longer tokens, so equal ids mean unchanged).
    if (l.id != c.left_id || l.next < 0 || sym[l.next].id != c.right_id) continue;
    const int right = l.next;
    l.id = merges_.at(pair_key(c.left_id, c.right_id)).result;
    l.next = sym[right].next;
    if (l.next >= 0) sym[l.next].prev = c.left;
    sym[right].id = -1;
    sym[right].next = -1;
    consider(l.prev);
    consider(c.left);
  }
  for (int i = 0; i >= 0; i = sym[i].next) out->push_back(sym[i].id);
}

}  // namespace ringlm
