// Reading the committed golden files: one JSON object per line, strings
// stored as hex so that no JSON library is needed (tests/data/tokenizer/).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ringlm::test {

// The raw text of `key`'s value on `line`: a string without its quotes, an
// array with its brackets, or a scalar; empty when the key is absent.
std::string raw_field(const std::string& line, const std::string& key);
// "48656c6c6f" -> "Hello".
std::string from_hex(const std::string& hex);
// "[1, 2, 3]" -> {1, 2, 3}.
std::vector<int32_t> parse_ids(const std::string& list);

}  // namespace ringlm::test
