// SpecialTrie: the texts of a vocabulary's special tokens (control, unknown,
// user-defined) in a byte trie, so the tokenizer finds the special tokens
// that start at a text position in time linear in the longest match, however
// many special tokens share a first byte.
//
// Nodes are stored first-child / next-sibling in one array (a node's
// children are found by a scan of its siblings: at most 256); the root's
// children, met at every text position, by a table.
//
// Thread-safety: built once (add), then const and safe to share.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace ringlm {

class SpecialTrie {
 public:
  // Adds a token; `text` must not be empty. Tokens of equal texts keep the
  // order they were added in.
  void add(std::string_view text, int32_t id);

  // The ids of the tokens whose texts are prefixes of `text`, longest text
  // first (equal texts in the order added), appended to `out` (cleared first).
  void prefixes_longest_first(std::string_view text, std::vector<int32_t>* out) const;

 private:
  struct Node {
    int32_t first_child = -1;
    int32_t next_sibling = -1;
    uint8_t byte = 0;
    int32_t first_id = -1;  // into ids_, a chain through next_id_
  };
  int32_t child(int32_t node, uint8_t byte) const;

  std::vector<Node> nodes_{Node{}};  // nodes_[0]: the root
  std::vector<int32_t> ids_;         // token ids, chained per node
  std::vector<int32_t> next_id_;     // next_id_[k]: the next entry of ids_ at the same node, or -1
  std::vector<int32_t> last_id_;     // per node: its chain's last entry (building only)
  std::array<int32_t, 256> root_children_ = filled(-1);

  static std::array<int32_t, 256> filled(int32_t v) {
    std::array<int32_t, 256> a;
    a.fill(v);
    return a;
  }
};

}  // namespace ringlm
