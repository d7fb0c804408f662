// UTF-8 scanning and the GPT-2 byte-to-unicode mapping used by byte-level BPE.
//
// Pure functions on byte strings; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringlm::unicode {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// What the bytes at the start of `s` hold.
struct Utf8Scan {
  enum Kind {
    kValid,       // one well-formed sequence of `len` bytes encoding `cp`
    kInvalid,     // `len` bytes (a maximal subpart, Unicode 3.9 / Table 3-7)
                  // that can never start a well-formed sequence
    kIncomplete,  // all of `s` is a well-formed but unfinished prefix
  };
  Kind kind;
  int len;
  uint32_t cp;
};

// `s` must not be empty.
Utf8Scan utf8_scan(std::string_view s);

// True when every byte of `s` belongs to a well-formed sequence.
bool utf8_is_valid(std::string_view s);

// `s` with each maximal invalid subpart (and a trailing unfinished sequence)
// replaced by U+FFFD: the same result as Python's bytes.decode(errors="replace").
std::string utf8_sanitize(std::string_view s);

// Appends the UTF-8 encoding of `cp` (assumed <= 0x10FFFF).
void utf8_append(std::string* out, uint32_t cp);

// GPT-2 byte-level alphabet: every byte maps to one printable code point
// (printable Latin-1 bytes to themselves, the rest to U+0100..U+0143).
// Returns the UTF-8 encoding of the code point for byte `b`.
std::string_view byte_to_unicode(uint8_t b);

// Inverse of byte_to_unicode on code points; -1 for code points outside the
// alphabet.
int unicode_to_byte(uint32_t cp);

}  // namespace ringlm::unicode
