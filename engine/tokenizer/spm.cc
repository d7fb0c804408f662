#include "tokenizer/spm.h"

#include <queue>

#include "tokenizer/unicode.h"

namespace ringlm {

int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int v = 0;
  for (char c : text.substr(3, 2)) {
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= c - '0';
    } else if (c >= 'A' && c <= 'F') {
      v |= c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      v |= c - 'a' + 10;
    } else {
      return -1;
    }
  }
  return v;
}

Result<std::unique_ptr<SpmEncoder>> SpmEncoder::Create(const TokenizerData& data) {
  std::unique_ptr<SpmEncoder> enc(new SpmEncoder());
  enc->byte_token_.fill(-1);
  enc->unk_id_ = data.unk_id;
  enc->scores_ = data.scores;
  enc->scores_.resize(data.tokens.size(), 0.0f);
  for (size_t i = 0; i < data.tokens.size(); ++i) {
    const auto id = static_cast<int32_t>(i);
    const auto type =
        data.token_types.empty() ? TokenType::kNormal : static_cast<TokenType>(data.token_types[i]);
    if (type == TokenType::kByte) {
      const int b = parse_byte_token(data.tokens[i]);
      if (b < 0) {
        return CorruptData("byte token " + std::to_string(i) + " has text '" + data.tokens[i] +
                           "', expected <0xXX>");
      }
      if (enc->byte_token_[b] < 0) enc->byte_token_[b] = id;
      enc->token_byte_[id] = static_cast<uint8_t>(b);
    } else if (type == TokenType::kNormal || type == TokenType::kUndefined) {
      enc->pieces_.emplace(data.tokens[i], id);
    }
  }
  return enc;
}

int SpmEncoder::byte_of(int32_t id) const {
  auto it = token_byte_.find(id);
  return it == token_byte_.end() ? -1 : it->second;
}

void SpmEncoder::encode(std::string_view text, std::vector<int32_t>* out) const {
  // One symbol per UTF-8 character (an invalid byte is a symbol of its own);
  // merged-away symbols get len 0.
  struct Symbol {
    size_t start, len;
    int prev, next;
  };
  std::vector<Symbol> sym;
  for (size_t pos = 0; pos < text.size();) {
    const unicode::Utf8Scan sc = unicode::utf8_scan(text.substr(pos));
    const size_t len = sc.kind == unicode::Utf8Scan::kValid ? sc.len : 1;
    const int n = static_cast<int>(sym.size());
    sym.push_back({pos, len, n - 1, n + 1});
    pos += len;
  }
  if (sym.empty()) return;
  sym.back().next = -1;

  struct Candidate {
    float score;
    int left, right;
    size_t len;  // combined length when queued; a mismatch marks it stale
    bool operator<(const Candidate& o) const {  // priority_queue pops the largest
      return score != o.score ? score < o.score : left > o.left;
    }
  };
  std::priority_queue<Candidate> queue;
  auto consider = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t len = sym[left].len + sym[right].len;
    auto it = pieces_.find(std::string(text.substr(sym[left].start, len)));
    if (it != pieces_.end()) queue.push({scores_[it->second], left, right, len});
  };
  for (int i = 0; i + 1 < static_cast<int>(sym.size()); ++i) consider(i, i + 1);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& l = sym[c.left];
    Symbol& r = sym[c.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != c.len) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = c.left;
    consider(l.prev, c.left);
    consider(c.left, l.next);
  }
  for (int i = 0; i >= 0; i = sym[i].next) emit(text.substr(sym[i].start, sym[i].len), out);
}

void SpmEncoder::emit(std::string_view symbol, std::vector<int32_t>* out) const {
  if (auto it = pieces_.find(std::string(symbol)); it != pieces_.end()) {
    out->push_back(it->second);
    return;
  }
  for (char c : symbol) {
    const int32_t id = byte_token_[static_cast<uint8_t>(c)];
    if (id >= 0) {
      out->push_back(id);
    } else if (unk_id_ >= 0) {
      out->push_back(unk_id_);
      return;  // one <unk> per unknown symbol, as sentencepiece without byte fallback
    }
  }
}

}  // namespace ringlm
