#include "tokenizer/special_trie.h"

namespace ringlm {

int32_t SpecialTrie::child(int32_t node, uint8_t byte) const {
  if (node == 0) return root_children_[byte];
  for (int32_t c = nodes_[size_t(node)].first_child; c >= 0; c = nodes_[size_t(c)].next_sibling)
    if (nodes_[size_t(c)].byte == byte) return c;
  return -1;
}

void SpecialTrie::add(std::string_view text, int32_t id) {
  int32_t node = 0;
  for (char ch : text) {
    const uint8_t b = static_cast<uint8_t>(ch);
    int32_t c = child(node, b);
    if (c < 0) {
      c = int32_t(nodes_.size());
      Node n;
      n.byte = b;
      n.next_sibling = nodes_[size_t(node)].first_child;
      nodes_.push_back(n);
      nodes_[size_t(node)].first_child = c;
      if (node == 0) root_children_[b] = c;
    }
    node = c;
  }
  last_id_.resize(nodes_.size(), -1);
  const int32_t k = int32_t(ids_.size());
  ids_.push_back(id);
  next_id_.push_back(-1);
  if (nodes_[size_t(node)].first_id < 0) {
    nodes_[size_t(node)].first_id = k;
  } else {
    next_id_[size_t(last_id_[size_t(node)])] = k;
  }
  last_id_[size_t(node)] = k;
}

void SpecialTrie::prefixes_longest_first(std::string_view text, std::vector<int32_t>* out) const {
  out->clear();
  // Walk down, noting the nodes where tokens end (shallow to deep), then
  // list their ids deepest first.
  thread_local std::vector<int32_t> ends;
  ends.clear();
  int32_t node = 0;
  for (char ch : text) {
    node = child(node, static_cast<uint8_t>(ch));
    if (node < 0) break;
    if (nodes_[size_t(node)].first_id >= 0) ends.push_back(node);
  }
  for (auto it = ends.rbegin(); it != ends.rend(); ++it) {
    for (int32_t k = nodes_[size_t(*it)].first_id; k >= 0; k = next_id_[size_t(k)])
      out->push_back(ids_[size_t(k)]);
  }
}

}  // namespace ringlm
