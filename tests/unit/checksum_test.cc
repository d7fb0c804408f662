// Checksum64 is XXH64 with seed 0: the values below are the reference
// implementation's (python xxhash 3.x, xxh64) for prefixes of one pattern,
// and feeding the bytes in pieces of any size gives the same value.
#include "core/checksum.h"

#include <catch2/catch.hpp>
#include <vector>

using namespace ringlm;

namespace {

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(i * 7 + 3);
  return v;
}

}  // namespace

TEST_CASE("Checksum64 matches the XXH64 reference values", "[checksum]") {
  const std::vector<uint8_t> data = pattern(1000);
  const std::pair<size_t, uint64_t> cases[] = {
      {0, 0xef46db3751d8e999ull},   {1, 0x1f25c8d0bc1f4bb6ull},  {3, 0x31d2363f52e564c9ull},
      {4, 0x9bb64b7d66ee9fdaull},   {7, 0x9a7b149959ce60d8ull},  {8, 0xdab99d95c6f90092ull},
      {9, 0x170bb6bf975b4c02ull},   {31, 0xa2aa5f33cc4a6119ull}, {32, 0x23c3c17ef790fd97ull},
      {33, 0x50a7cfc7ba588784ull},  {63, 0x5e3e54b431c7493cull}, {64, 0x0eb64b3ef6eeb01full},
      {100, 0xa61f8d4c170fe531ull}, {1000, 0x5f235fa033f1a3fbull},
  };
  for (const auto& [n, want] : cases) {
    INFO("length " << n);
    CHECK(Checksum64::of(data.data(), n) == want);
  }
}

TEST_CASE("Checksum64 gives the same value however the bytes are split", "[checksum]") {
  const std::vector<uint8_t> data = pattern(1000);
  const uint64_t whole = Checksum64::of(data.data(), data.size());
  for (size_t piece : {1, 3, 8, 31, 32, 33, 100, 999}) {
    INFO("pieces of " << piece);
    Checksum64 c;
    for (size_t off = 0; off < data.size(); off += piece)
      c.update(data.data() + off, std::min(piece, data.size() - off));
    CHECK(c.digest() == whole);
  }
  // Uneven pieces, and digest() in the middle does not disturb the stream.
  Checksum64 c;
  size_t off = 0, piece = 1;
  while (off < data.size()) {
    const size_t n = std::min(piece, data.size() - off);
    c.update(data.data() + off, n);
    CHECK(c.digest() == Checksum64::of(data.data(), off + n));
    off += n;
    piece = piece * 3 % 67 + 1;
  }
  CHECK(c.digest() == whole);
  // A changed byte changes the value.
  std::vector<uint8_t> other = data;
  other[517] ^= 1;
  CHECK(Checksum64::of(other.data(), other.size()) != whole);
}
