// GgufValue: one metadata value of a GGUF file (a scalar, a string or an
// array of values, arrays possibly nested).
//
// Values are plain copyable data; a GgufFile owns the ones it parsed and hands
// out const pointers valid for the file's lifetime. Arrays of scalars are kept
// packed (their file bytes), so a value's memory stays proportional to its
// encoded size: read items with size() and at().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringlm {

// Value-type ids exactly as stored in the file.
enum class GgufValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

// True when `raw` is one of the ids above.
bool gguf_value_type_valid(uint32_t raw);
// "u8", "i32", "f32", "bool", "string", "array", ...
std::string_view gguf_value_type_name(GgufValueType t);
// Encoded size of a scalar type (0 for kString and kArray).
uint64_t gguf_value_type_size(GgufValueType t);

class GgufValue {
 public:
  GgufValue() = default;  // u8 0

  // Factories. The type must belong to the factory's family (asserted).
  static GgufValue Unsigned(GgufValueType t, uint64_t v);  // kU8, kU16, kU32, kU64
  static GgufValue Signed(GgufValueType t, int64_t v);     // kI8, kI16, kI32, kI64
  static GgufValue Float(GgufValueType t, double v);       // kF32, kF64
  static GgufValue Bool(bool v);
  static GgufValue String(std::string v);
  // Every item must have type `elem_type`.
  static GgufValue Array(GgufValueType elem_type, std::vector<GgufValue> items);
  // An array of a scalar `elem_type` from its packed little-endian encoding
  // (raw.size() a multiple of the element size; bools 0 or 1).
  static GgufValue PackedArray(GgufValueType elem_type, std::string raw);

  GgufValueType type() const { return type_; }
  bool is_unsigned() const;
  bool is_signed() const;
  bool is_integer() const { return is_unsigned() || is_signed(); }
  bool is_float() const { return type_ == GgufValueType::kF32 || type_ == GgufValueType::kF64; }

  // Any integer type whose value fits an int64; nullopt otherwise.
  std::optional<int64_t> to_int() const;
  // Float types, or integer types converted; nullopt otherwise.
  std::optional<double> to_double() const;

  // Raw accessors; each is meaningful only for its own family.
  uint64_t as_unsigned() const { return u_; }
  int64_t as_signed() const { return i_; }
  double as_float() const { return f_; }  // f32 values are widened exactly
  bool as_bool() const { return u_ != 0; }
  const std::string& as_string() const { return str_; }
  GgufValueType elem_type() const { return elem_type_; }  // kArray only

  // kArray only: the number of items and item `i` (< size()) by value.
  uint64_t size() const;
  GgufValue at(uint64_t i) const;
  // kArray of kString only: item `i` without a copy.
  const std::string& string_at(uint64_t i) const { return items_[i].str_; }
  // kArray of a scalar type only: the packed little-endian items.
  std::string_view packed() const { return str_; }

  // "u32", "string", "array[string]", "array[array[i32]]".
  std::string type_name() const;

  bool operator==(const GgufValue& o) const;

 private:
  GgufValueType type_ = GgufValueType::kU8;
  GgufValueType elem_type_ = GgufValueType::kU8;
  uint64_t u_ = 0;                // unsigned types and bool
  int64_t i_ = 0;                 // signed types
  double f_ = 0;                  // float types
  std::string str_;               // kString; packed items of a scalar kArray
  std::vector<GgufValue> items_;  // items of a kArray of kString or kArray
};

}  // namespace ringlm
