#include "model/gguf_value.h"

#include <cassert>
#include <cstring>
#include <limits>
#include <utility>

namespace ringlm {

bool gguf_value_type_valid(uint32_t raw) {
  return raw <= static_cast<uint32_t>(GgufValueType::kF64);
}

std::string_view gguf_value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8:
      return "u8";
    case GgufValueType::kI8:
      return "i8";
    case GgufValueType::kU16:
      return "u16";
    case GgufValueType::kI16:
      return "i16";
    case GgufValueType::kU32:
      return "u32";
    case GgufValueType::kI32:
      return "i32";
    case GgufValueType::kF32:
      return "f32";
    case GgufValueType::kBool:
      return "bool";
    case GgufValueType::kString:
      return "string";
    case GgufValueType::kArray:
      return "array";
    case GgufValueType::kU64:
      return "u64";
    case GgufValueType::kI64:
      return "i64";
    case GgufValueType::kF64:
      return "f64";
  }
  return "?";
}

uint64_t gguf_value_type_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8:
    case GgufValueType::kI8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kU16:
    case GgufValueType::kI16:
      return 2;
    case GgufValueType::kU32:
    case GgufValueType::kI32:
    case GgufValueType::kF32:
      return 4;
    case GgufValueType::kU64:
    case GgufValueType::kI64:
    case GgufValueType::kF64:
      return 8;
    case GgufValueType::kString:
    case GgufValueType::kArray:
      return 0;
  }
  return 0;
}

GgufValue GgufValue::Unsigned(GgufValueType t, uint64_t v) {
  GgufValue r;
  r.type_ = t;
  r.u_ = v;
  assert(r.is_unsigned());
  return r;
}

GgufValue GgufValue::Signed(GgufValueType t, int64_t v) {
  GgufValue r;
  r.type_ = t;
  r.i_ = v;
  assert(r.is_signed());
  return r;
}

GgufValue GgufValue::Float(GgufValueType t, double v) {
  GgufValue r;
  r.type_ = t;
  r.f_ = t == GgufValueType::kF32 ? static_cast<double>(static_cast<float>(v)) : v;
  assert(r.is_float());
  return r;
}

GgufValue GgufValue::Bool(bool v) {
  GgufValue r;
  r.type_ = GgufValueType::kBool;
  r.u_ = v ? 1 : 0;
  return r;
}

GgufValue GgufValue::String(std::string v) {
  GgufValue r;
  r.type_ = GgufValueType::kString;
  r.str_ = std::move(v);
  return r;
}

namespace {

bool is_scalar(GgufValueType t) { return gguf_value_type_size(t) != 0; }

// Appends the little-endian encoding of scalar `v` to `out`.
void append_scalar(const GgufValue& v, std::string* out) {
  const uint64_t n = gguf_value_type_size(v.type());
  uint8_t buf[8];
  if (v.type() == GgufValueType::kF32) {
    const float f = static_cast<float>(v.as_float());
    std::memcpy(buf, &f, 4);
  } else if (v.type() == GgufValueType::kF64) {
    const double d = v.as_float();
    std::memcpy(buf, &d, 8);
  } else if (v.is_signed()) {
    const int64_t s = v.as_signed();
    std::memcpy(buf, &s, 8);  // little endian: the low n bytes are the value
  } else {
    const uint64_t u = v.as_unsigned();
    std::memcpy(buf, &u, 8);
  }
  out->append(reinterpret_cast<const char*>(buf), n);
}

}  // namespace

GgufValue GgufValue::Array(GgufValueType elem_type, std::vector<GgufValue> items) {
#ifndef NDEBUG
  for (const auto& it : items) assert(it.type() == elem_type);
#endif
  if (is_scalar(elem_type)) {
    std::string raw;
    raw.reserve(items.size() * gguf_value_type_size(elem_type));
    for (const auto& it : items) append_scalar(it, &raw);
    return PackedArray(elem_type, std::move(raw));
  }
  GgufValue r;
  r.type_ = GgufValueType::kArray;
  r.elem_type_ = elem_type;
  r.items_ = std::move(items);
  return r;
}

GgufValue GgufValue::PackedArray(GgufValueType elem_type, std::string raw) {
  assert(is_scalar(elem_type) && raw.size() % gguf_value_type_size(elem_type) == 0);
  GgufValue r;
  r.type_ = GgufValueType::kArray;
  r.elem_type_ = elem_type;
  r.str_ = std::move(raw);
  return r;
}

uint64_t GgufValue::size() const {
  if (type_ != GgufValueType::kArray) return 0;
  if (is_scalar(elem_type_)) return str_.size() / gguf_value_type_size(elem_type_);
  return items_.size();
}

GgufValue GgufValue::at(uint64_t i) const {
  assert(type_ == GgufValueType::kArray && i < size());
  if (!is_scalar(elem_type_)) return items_[i];
  const uint64_t n = gguf_value_type_size(elem_type_);
  const char* p = str_.data() + i * n;
  switch (elem_type_) {
    case GgufValueType::kF32: {
      float f;
      std::memcpy(&f, p, 4);
      return Float(elem_type_, f);
    }
    case GgufValueType::kF64: {
      double d;
      std::memcpy(&d, p, 8);
      return Float(elem_type_, d);
    }
    case GgufValueType::kBool:
      return Bool(*p != 0);
    case GgufValueType::kI8:
      return Signed(elem_type_, static_cast<int8_t>(*p));
    case GgufValueType::kI16: {
      int16_t v;
      std::memcpy(&v, p, 2);
      return Signed(elem_type_, v);
    }
    case GgufValueType::kI32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      return Signed(elem_type_, v);
    }
    case GgufValueType::kI64: {
      int64_t v;
      std::memcpy(&v, p, 8);
      return Signed(elem_type_, v);
    }
    default: {
      uint64_t v = 0;
      std::memcpy(&v, p, n);  // little endian
      return Unsigned(elem_type_, v);
    }
  }
}

bool GgufValue::is_unsigned() const {
  return type_ == GgufValueType::kU8 || type_ == GgufValueType::kU16 ||
         type_ == GgufValueType::kU32 || type_ == GgufValueType::kU64;
}

bool GgufValue::is_signed() const {
  return type_ == GgufValueType::kI8 || type_ == GgufValueType::kI16 ||
         type_ == GgufValueType::kI32 || type_ == GgufValueType::kI64;
}

std::optional<int64_t> GgufValue::to_int() const {
  if (is_signed()) return i_;
  if (is_unsigned()) {
    if (u_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u_);
  }
  return std::nullopt;
}

std::optional<double> GgufValue::to_double() const {
  if (is_float()) return f_;
  if (is_signed()) return static_cast<double>(i_);
  if (is_unsigned()) return static_cast<double>(u_);
  return std::nullopt;
}

std::string GgufValue::type_name() const {
  if (type_ != GgufValueType::kArray) return std::string(gguf_value_type_name(type_));
  std::string inner;
  if (elem_type_ == GgufValueType::kArray && !items_.empty()) {
    inner = items_.front().type_name();  // the first item stands for all
  } else {
    inner = std::string(gguf_value_type_name(elem_type_));
  }
  return "array[" + inner + "]";
}

bool GgufValue::operator==(const GgufValue& o) const {
  if (type_ != o.type_) return false;
  if (is_unsigned() || type_ == GgufValueType::kBool) return u_ == o.u_;
  if (is_signed()) return i_ == o.i_;
  // Bitwise, so that NaN payloads round-trip and compare equal.
  if (is_float()) return std::memcmp(&f_, &o.f_, sizeof f_) == 0;
  // Strings, and arrays (packed bytes compare bitwise too).
  return elem_type_ == o.elem_type_ && str_ == o.str_ && items_ == o.items_;
}

}  // namespace ringlm
