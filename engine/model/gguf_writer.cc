#include "model/gguf_writer.h"

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "model/gguf_format.h"
#include "model/gguf_quantize.h"

namespace ringlm {
namespace {

template <typename T>
void put(std::vector<uint8_t>* out, T v) {
  const size_t at = out->size();
  out->resize(at + sizeof(T));
  std::memcpy(out->data() + at, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>* out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out->insert(out->end(), s.begin(), s.end());
}

void put_value(std::vector<uint8_t>* out, const GgufValue& v) {
  switch (v.type()) {
    case GgufValueType::kU8:
      put<uint8_t>(out, static_cast<uint8_t>(v.as_unsigned()));
      break;
    case GgufValueType::kU16:
      put<uint16_t>(out, static_cast<uint16_t>(v.as_unsigned()));
      break;
    case GgufValueType::kU32:
      put<uint32_t>(out, static_cast<uint32_t>(v.as_unsigned()));
      break;
    case GgufValueType::kU64:
      put<uint64_t>(out, v.as_unsigned());
      break;
    case GgufValueType::kI8:
      put<int8_t>(out, static_cast<int8_t>(v.as_signed()));
      break;
    case GgufValueType::kI16:
      put<int16_t>(out, static_cast<int16_t>(v.as_signed()));
      break;
    case GgufValueType::kI32:
      put<int32_t>(out, static_cast<int32_t>(v.as_signed()));
      break;
    case GgufValueType::kI64:
      put<int64_t>(out, v.as_signed());
      break;
    case GgufValueType::kF32:
      put<float>(out, static_cast<float>(v.as_float()));
      break;
    case GgufValueType::kF64:
      put<double>(out, v.as_float());
      break;
    case GgufValueType::kBool:
      put<uint8_t>(out, v.as_bool() ? 1 : 0);
      break;
    case GgufValueType::kString:
      put_string(out, v.as_string());
      break;
    case GgufValueType::kArray: {
      put<uint32_t>(out, static_cast<uint32_t>(v.elem_type()));
      put<uint64_t>(out, v.size());
      if (gguf_value_type_size(v.elem_type()) != 0) {
        const std::string_view raw = v.packed();
        out->insert(out->end(), raw.begin(), raw.end());
      } else {
        for (uint64_t i = 0; i < v.size(); ++i) put_value(out, v.at(i));
      }
      break;
    }
  }
}

void pad_to(std::vector<uint8_t>* out, uint64_t alignment) {
  out->resize((out->size() + alignment - 1) / alignment * alignment, 0);
}

}  // namespace

void GgufWriter::add(std::string key, GgufValue value) {
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  }
  kv_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::add_string(std::string key, std::string v) {
  add(std::move(key), GgufValue::String(std::move(v)));
}
void GgufWriter::add_u32(std::string key, uint32_t v) {
  add(std::move(key), GgufValue::Unsigned(GgufValueType::kU32, v));
}
void GgufWriter::add_i32(std::string key, int32_t v) {
  add(std::move(key), GgufValue::Signed(GgufValueType::kI32, v));
}
void GgufWriter::add_u64(std::string key, uint64_t v) {
  add(std::move(key), GgufValue::Unsigned(GgufValueType::kU64, v));
}
void GgufWriter::add_f32(std::string key, float v) {
  add(std::move(key), GgufValue::Float(GgufValueType::kF32, v));
}
void GgufWriter::add_bool(std::string key, bool v) { add(std::move(key), GgufValue::Bool(v)); }

void GgufWriter::add_string_array(std::string key, const std::vector<std::string>& v) {
  std::vector<GgufValue> items;
  items.reserve(v.size());
  for (const auto& s : v) items.push_back(GgufValue::String(s));
  add(std::move(key), GgufValue::Array(GgufValueType::kString, std::move(items)));
}

void GgufWriter::add_f32_array(std::string key, const std::vector<float>& v) {
  std::string raw(v.size() * 4, '\0');
  if (!v.empty()) std::memcpy(raw.data(), v.data(), raw.size());
  add(std::move(key), GgufValue::PackedArray(GgufValueType::kF32, std::move(raw)));
}

void GgufWriter::add_i32_array(std::string key, const std::vector<int32_t>& v) {
  std::string raw(v.size() * 4, '\0');
  if (!v.empty()) std::memcpy(raw.data(), v.data(), raw.size());
  add(std::move(key), GgufValue::PackedArray(GgufValueType::kI32, std::move(raw)));
}

Status GgufWriter::add_tensor(std::string name, DType type, std::vector<int64_t> ne,
                              std::span<const uint8_t> bytes) {
  const std::string tq = "tensor '" + name + "'";
  if (!dtype_to_ggml_type(type)) {
    return InvalidArgument(tq + ": type " + std::string(dtype_name(type)) +
                           " cannot be stored in GGUF");
  }
  if (ne.size() > static_cast<size_t>(kGgufMaxDims)) {
    return InvalidArgument(tq + ": more than 4 dimensions");
  }
  int64_t elems = 1;
  for (int64_t d : ne) {
    if (d < 0 || __builtin_mul_overflow(elems, d, &elems)) {
      return InvalidArgument(tq + ": bad dimensions");
    }
  }
  if ((ne.empty() ? 1 : ne[0]) % dtype_block_elems(type) != 0) {
    return InvalidArgument(tq + ": ne[0] is not a multiple of the block size");
  }
  if (static_cast<uint64_t>(dtype_row_bytes(type, elems)) != bytes.size()) {
    return InvalidArgument(tq + ": " + std::to_string(bytes.size()) + " bytes given, " +
                           std::to_string(dtype_row_bytes(type, elems)) + " expected");
  }
  for (const auto& t : tensors_) {
    if (t.name == name) return InvalidArgument("duplicate " + tq);
  }
  tensors_.push_back({std::move(name), type, std::move(ne), {bytes.begin(), bytes.end()}});
  return Status::Ok();
}

Status GgufWriter::add_tensor_f32(std::string name, DType type, std::vector<int64_t> ne,
                                  std::span<const float> values) {
  int64_t elems = 1;
  for (int64_t d : ne) {
    if (d < 0 || __builtin_mul_overflow(elems, d, &elems)) {
      return InvalidArgument("tensor '" + name + "': bad dimensions");
    }
  }
  if (static_cast<uint64_t>(elems) != values.size() || type == DType::kI32 ||
      elems % dtype_block_elems(type) != 0) {
    return InvalidArgument("tensor '" + name + "': " + std::to_string(values.size()) +
                           " values do not fit the shape or type " + std::string(dtype_name(type)));
  }
  const std::vector<uint8_t> bytes = quantize(type, values);
  return add_tensor(std::move(name), type, std::move(ne), bytes);
}

Result<std::vector<uint8_t>> GgufWriter::to_bytes() const {
  uint64_t alignment = kGgufDefaultAlignment;
  for (const auto& [key, v] : kv_) {
    if (key != kGgufAlignmentKey) continue;
    if (v.type() != GgufValueType::kU32 || v.as_unsigned() == 0 ||
        !std::has_single_bit(v.as_unsigned())) {
      return InvalidArgument("general.alignment must be a u32 power of two");
    }
    alignment = v.as_unsigned();
  }
  std::vector<uint8_t> out;
  put<uint32_t>(&out, kGgufMagic);
  put<uint32_t>(&out, version_);
  put<uint64_t>(&out, tensors_.size());
  put<uint64_t>(&out, kv_.size());
  for (const auto& [key, v] : kv_) {
    put_string(&out, key);
    put<uint32_t>(&out, static_cast<uint32_t>(v.type()));
    put_value(&out, v);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(&out, t.name);
    put<uint32_t>(&out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put<int64_t>(&out, d);
    put<uint32_t>(&out, *dtype_to_ggml_type(t.type));
    put<uint64_t>(&out, offset);
    offset = (offset + t.data.size() + alignment - 1) / alignment * alignment;
  }
  pad_to(&out, alignment);
  for (const auto& t : tensors_) {
    out.insert(out.end(), t.data.begin(), t.data.end());
    pad_to(&out, alignment);
  }
  return out;
}

Status GgufWriter::write(const std::string& path) const {
  RINGLM_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, to_bytes());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return IoError("cannot create '" + path + "': " + std::strerror(errno));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) return IoError("cannot write '" + path + "'");
  return Status::Ok();
}

}  // namespace ringlm
