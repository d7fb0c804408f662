// Parsing and validation of a GGUF file's header, metadata and tensor infos.
// Every read goes through Cursor, which checks the remaining length first.
#include <algorithm>
#include <bit>
#include <cstring>
#include <string>
#include <utility>

#include "model/gguf.h"
#include "model/gguf_format.h"

namespace ringlm {
namespace {

// 'name', cut at 200 bytes (names read from a corrupt file may be long).
std::string quoted(std::string_view s) {
  std::string r;
  r.reserve(std::min<size_t>(s.size(), 200) + 5);
  r += '\'';
  r += s.substr(0, 200);
  if (s.size() > 200) r += "...";
  r += '\'';
  return r;
}

// A bounds-checked little-endian reader over [data, data + size).
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}

  uint64_t pos() const { return pos_; }

  // Counts `n` string or array items against the file's kGgufMaxArrayItems.
  Status TakeItems(uint64_t n, std::string_view key) {
    if (n > items_left_) {
      return CorruptData("key " + std::string(key.substr(0, 200)) + ": the file's string and " +
                         "array arrays hold more than " + std::to_string(kGgufMaxArrayItems) +
                         " items in all");
    }
    items_left_ -= n;
    return Status::Ok();
  }
  uint64_t remaining() const { return size_ - pos_; }

  Status Need(uint64_t n, std::string_view what) const {
    if (n > remaining()) {
      return CorruptData("truncated file: reading " + std::string(what) + " needs " +
                         std::to_string(n) + " bytes at offset " + std::to_string(pos_) +
                         " but the file has " + std::to_string(size_) + " bytes");
    }
    return Status::Ok();
  }

  template <typename T>
  Status Read(T* out, std::string_view what) {
    RINGLM_RETURN_IF_ERROR(Need(sizeof(T), what));
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  // `n` raw bytes.
  Status ReadRaw(std::string* out, uint64_t n, std::string_view what) {
    RINGLM_RETURN_IF_ERROR(Need(n, what));
    out->assign(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return Status::Ok();
  }

  // A GGUF string: u64 length + bytes (no terminator).
  Status ReadString(std::string* out, uint64_t max_len, std::string_view what) {
    uint64_t len = 0;
    RINGLM_RETURN_IF_ERROR(Read(&len, what));
    if (len > max_len) {
      return CorruptData("string length " + std::to_string(len) + " of " + std::string(what) +
                         " exceeds the limit of " + std::to_string(max_len));
    }
    if (len > remaining()) {
      return CorruptData("truncated file: string length " + std::to_string(len) + " of " +
                         std::string(what) + " at offset " + std::to_string(pos_) +
                         " exceeds the " + std::to_string(remaining()) + " remaining bytes");
    }
    out->assign(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return Status::Ok();
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  uint64_t items_left_ = kGgufMaxArrayItems;
};

// Smallest encoded size of one value of type `t` (used to cap counts).
uint64_t min_encoded_size(GgufValueType t) {
  if (t == GgufValueType::kString) return 8;     // length
  if (t == GgufValueType::kArray) return 4 + 8;  // elem type + count
  return gguf_value_type_size(t);
}

// `what` ("value of key '...'") is built once per key and names it in errors.
Status ReadValue(Cursor& c, GgufValueType type, const std::string& key, const std::string& what,
                 int depth, GgufValue* out);

Status ReadArray(Cursor& c, const std::string& key, const std::string& what, int depth,
                 GgufValue* out) {
  if (depth >= kGgufMaxArrayDepth) {
    return CorruptData("key " + quoted(key) + ": arrays nested deeper than " +
                       std::to_string(kGgufMaxArrayDepth) + " levels");
  }
  uint32_t raw_type = 0;
  uint64_t n = 0;
  RINGLM_RETURN_IF_ERROR(c.Read(&raw_type, "array element type of key " + quoted(key)));
  if (!gguf_value_type_valid(raw_type)) {
    return CorruptData("key " + quoted(key) + ": array has unknown value type " +
                       std::to_string(raw_type));
  }
  const auto elem_type = static_cast<GgufValueType>(raw_type);
  RINGLM_RETURN_IF_ERROR(c.Read(&n, "array length of key " + quoted(key)));
  const uint64_t min_size = min_encoded_size(elem_type);
  if (n > c.remaining() / min_size) {
    return CorruptData("truncated or corrupt file: array length " + std::to_string(n) + " of key " +
                       quoted(key) + " needs at least " + std::to_string(min_size) +
                       " bytes per element but only " + std::to_string(c.remaining()) +
                       " bytes remain");
  }
  if (const uint64_t elem_size = gguf_value_type_size(elem_type); elem_size != 0) {
    // Scalars: keep the packed bytes (n * elem_size <= remaining, checked above).
    std::string raw;
    RINGLM_RETURN_IF_ERROR(c.ReadRaw(&raw, n * elem_size, "array of key " + quoted(key)));
    if (elem_type == GgufValueType::kBool) {
      for (uint64_t i = 0; i < n; ++i) {
        if (static_cast<uint8_t>(raw[i]) > 1) {
          return CorruptData("key " + quoted(key) + ": bool array item " + std::to_string(i) +
                             " is neither 0 nor 1");
        }
      }
    }
    *out = GgufValue::PackedArray(elem_type, std::move(raw));
    return Status::Ok();
  }
  RINGLM_RETURN_IF_ERROR(c.TakeItems(n, key));
  std::vector<GgufValue> items(n);
  for (uint64_t i = 0; i < n; ++i) {
    RINGLM_RETURN_IF_ERROR(ReadValue(c, elem_type, key, what, depth + 1, &items[i]));
  }
  *out = GgufValue::Array(elem_type, std::move(items));
  return Status::Ok();
}

Status ReadValue(Cursor& c, GgufValueType type, const std::string& key, const std::string& what,
                 int depth, GgufValue* out) {
  switch (type) {
#define RINGLM_GGUF_READ_(enum_type, c_type, factory)       \
  case GgufValueType::enum_type: {                          \
    c_type v{};                                             \
    RINGLM_RETURN_IF_ERROR(c.Read(&v, what));               \
    *out = GgufValue::factory(GgufValueType::enum_type, v); \
    return Status::Ok();                                    \
  }
    RINGLM_GGUF_READ_(kU8, uint8_t, Unsigned)
    RINGLM_GGUF_READ_(kU16, uint16_t, Unsigned)
    RINGLM_GGUF_READ_(kU32, uint32_t, Unsigned)
    RINGLM_GGUF_READ_(kU64, uint64_t, Unsigned)
    RINGLM_GGUF_READ_(kI8, int8_t, Signed)
    RINGLM_GGUF_READ_(kI16, int16_t, Signed)
    RINGLM_GGUF_READ_(kI32, int32_t, Signed)
    RINGLM_GGUF_READ_(kI64, int64_t, Signed)
    RINGLM_GGUF_READ_(kF32, float, Float)
    RINGLM_GGUF_READ_(kF64, double, Float)
#undef RINGLM_GGUF_READ_
    case GgufValueType::kBool: {
      uint8_t v = 0;
      RINGLM_RETURN_IF_ERROR(c.Read(&v, what));
      if (v > 1) {
        return CorruptData("key " + quoted(key) + ": bool value " + std::to_string(v) +
                           " is neither 0 nor 1");
      }
      *out = GgufValue::Bool(v != 0);
      return Status::Ok();
    }
    case GgufValueType::kString: {
      std::string s;
      RINGLM_RETURN_IF_ERROR(c.ReadString(&s, UINT64_MAX, what));
      *out = GgufValue::String(std::move(s));
      return Status::Ok();
    }
    case GgufValueType::kArray:
      return ReadArray(c, key, what, depth, out);
  }
  return Internal("unhandled GGUF value type");
}

// FNV-1a over 8-byte words (a byte-wise tail), finished with a splitmix64 mix.
uint64_t hash_bytes(const uint8_t* p, uint64_t n) {
  uint64_t h = 0xcbf29ce484222325ull ^ n;
  constexpr uint64_t kPrime = 0x100000001b3ull;
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * kPrime;
    h ^= h >> 29;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * kPrime;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

Status CheckVersion(uint32_t v) {
  if (v == 2 || v == 3) return Status::Ok();
  if (v == 1) return Unsupported("GGUF version 1 is not supported (only versions 2 and 3)");
  if (v == 0x02000000u || v == 0x03000000u) {
    return Unsupported("big-endian GGUF files are not supported");
  }
  if (v > 3 && v < 0x10000) {
    return Unsupported("GGUF version " + std::to_string(v) +
                       " is not supported (only versions 2 and 3)");
  }
  return CorruptData("bad GGUF version " + std::to_string(v));
}

}  // namespace

Status GgufFile::ParseAll() {
  Cursor c(data_, size_);
  uint32_t magic = 0;
  RINGLM_RETURN_IF_ERROR(c.Read(&magic, "magic"));
  if (magic != kGgufMagic) {
    char m[5] = {};
    std::memcpy(m, &magic, 4);
    for (char& ch : m) {
      if (ch && (ch < 32 || ch > 126)) ch = '?';
    }
    return CorruptData(std::string("bad magic '") + m + "' (expected 'GGUF')");
  }
  RINGLM_RETURN_IF_ERROR(c.Read(&version_, "version"));
  RINGLM_RETURN_IF_ERROR(CheckVersion(version_));

  uint64_t n_tensors = 0, n_kv = 0;
  RINGLM_RETURN_IF_ERROR(c.Read(&n_tensors, "tensor count"));
  RINGLM_RETURN_IF_ERROR(c.Read(&n_kv, "kv count"));
  if (n_tensors > kGgufMaxTensors) {
    return CorruptData("tensor count " + std::to_string(n_tensors) + " exceeds the limit of " +
                       std::to_string(kGgufMaxTensors));
  }
  if (n_kv > kGgufMaxKv) {
    return CorruptData("kv count " + std::to_string(n_kv) + " exceeds the limit of " +
                       std::to_string(kGgufMaxKv));
  }
  // Each kv needs >= 13 bytes (key length, type, 1-byte value); each tensor
  // info >= 24 (name length, n_dims, type, offset).
  constexpr uint64_t kMinKv = 8 + 4 + 1, kMinTensor = 8 + 4 + 4 + 8;
  if (n_kv > c.remaining() / kMinKv || n_tensors > (c.remaining() - n_kv * kMinKv) / kMinTensor) {
    return CorruptData("truncated or corrupt file: kv count " + std::to_string(n_kv) +
                       " and tensor count " + std::to_string(n_tensors) + " cannot fit in the " +
                       std::to_string(c.remaining()) + " bytes after the header");
  }

  // --- metadata ---
  kv_.resize(n_kv);
  for (uint64_t i = 0; i < n_kv; ++i) {
    auto& [key, value] = kv_[i];
    const std::string what = "key #" + std::to_string(i);
    RINGLM_RETURN_IF_ERROR(c.ReadString(&key, kGgufMaxKeyLength, what));
    uint32_t raw_type = 0;
    RINGLM_RETURN_IF_ERROR(c.Read(&raw_type, "value type of key " + quoted(key)));
    if (!gguf_value_type_valid(raw_type)) {
      return CorruptData("key " + quoted(key) + " has unknown value type " +
                         std::to_string(raw_type));
    }
    const std::string value_what = "value of key " + quoted(key);
    RINGLM_RETURN_IF_ERROR(
        ReadValue(c, static_cast<GgufValueType>(raw_type), key, value_what, 0, &value));
  }
  for (size_t i = 0; i < kv_.size(); ++i) {
    if (!kv_index_.emplace(kv_[i].first, i).second) {
      return CorruptData("duplicate key " + quoted(kv_[i].first));
    }
  }

  alignment_ = kGgufDefaultAlignment;
  if (const GgufValue* a = find(kGgufAlignmentKey)) {
    if (a->type() != GgufValueType::kU32) {
      return CorruptData(std::string(kGgufAlignmentKey) + " has type " + a->type_name() +
                         " (expected u32)");
    }
    const uint64_t v = a->as_unsigned();
    if (v == 0 || !std::has_single_bit(v)) {
      return CorruptData(std::string(kGgufAlignmentKey) + " " + std::to_string(v) +
                         " is not a power of two");
    }
    alignment_ = static_cast<uint32_t>(v);
  }

  // --- tensor infos ---
  tensors_.resize(n_tensors);
  std::vector<uint32_t> ggml_types(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo& t = tensors_[i];
    RINGLM_RETURN_IF_ERROR(
        c.ReadString(&t.name, kGgufMaxTensorNameLength, "name of tensor #" + std::to_string(i)));
    const std::string tq = "tensor " + quoted(t.name);
    uint32_t n_dims = 0;
    RINGLM_RETURN_IF_ERROR(c.Read(&n_dims, "n_dims of " + tq));
    if (n_dims > kGgufMaxDims) {
      return CorruptData(tq + " has " + std::to_string(n_dims) + " dimensions (max " +
                         std::to_string(kGgufMaxDims) + ")");
    }
    t.ne.resize(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      RINGLM_RETURN_IF_ERROR(c.Read(&t.ne[d], "dimensions of " + tq));
    }
    RINGLM_RETURN_IF_ERROR(c.Read(&ggml_types[i], "type of " + tq));
    RINGLM_RETURN_IF_ERROR(c.Read(&t.offset, "data offset of " + tq));
  }
  const uint64_t infos_end = c.pos();
  fingerprint_ = hash_bytes(data_, infos_end);
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (!tensor_index_.emplace(tensors_[i].name, i).second) {
      return CorruptData("duplicate tensor name " + quoted(tensors_[i].name));
    }
  }

  // The data section starts at the next multiple of the alignment (it may be
  // absent, past the end, when no tensor has data).
  data_offset_ = (infos_end + alignment_ - 1) / alignment_ * alignment_;

  for (size_t i = 0; i < tensors_.size(); ++i) {
    GgufTensorInfo& t = tensors_[i];
    const std::string tq = "tensor " + quoted(t.name);
    const uint32_t gt = ggml_types[i];
    const std::optional<DType> dt = ggml_type_to_dtype(gt);
    if (!dt) {
      const std::string_view name = ggml_type_name(gt);
      if (name.empty()) {
        return CorruptData(tq + " has unknown ggml type " + std::to_string(gt));
      }
      return Unsupported(tq + " has unsupported type " + std::string(name) + " (ggml type " +
                         std::to_string(gt) + ")");
    }
    t.type = *dt;
    int64_t elems = 1;
    for (size_t d = 0; d < t.ne.size(); ++d) {
      if (t.ne[d] < 0) {
        return CorruptData(tq + " has negative dimension ne[" + std::to_string(d) +
                           "] = " + std::to_string(t.ne[d]));
      }
      if (__builtin_mul_overflow(elems, t.ne[d], &elems)) {
        return CorruptData(tq + " dimensions overflow: their product exceeds 2^63");
      }
    }
    const int64_t block = dtype_block_elems(t.type);
    const int64_t ne0 = t.ne.empty() ? 1 : t.ne[0];
    if (ne0 % block != 0) {
      return CorruptData(tq + " of type " + std::string(dtype_name(t.type)) +
                         " has ne[0] = " + std::to_string(ne0) +
                         ", not a multiple of the block size " + std::to_string(block));
    }
    int64_t bytes = 0;
    if (__builtin_mul_overflow(elems / block, dtype_block_bytes(t.type), &bytes)) {
      return CorruptData(tq + " dimensions overflow: its byte size exceeds 2^63");
    }
    t.bytes = static_cast<uint64_t>(bytes);
    if (t.offset % alignment_ != 0) {
      return CorruptData(tq + " data offset " + std::to_string(t.offset) +
                         " is misaligned (alignment " + std::to_string(alignment_) + ")");
    }
    // data_offset_ + offset + bytes <= size_, without overflow.
    const uint64_t avail = data_offset_ <= size_ ? size_ - data_offset_ : 0;
    if (t.offset > avail || t.bytes > avail - t.offset) {
      return CorruptData(tq + " data (offset " + std::to_string(t.offset) + ", " +
                         std::to_string(t.bytes) +
                         " bytes) lies beyond the end of the file: the data section has " +
                         std::to_string(avail) + " bytes (truncated or bad offset)");
    }
  }
  // No two tensors share bytes (a damaged or tampered offset table).
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const GgufTensorInfo& t : tensors_) {
    if (t.bytes > 0) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& prev = *by_offset[i - 1];
    const GgufTensorInfo& t = *by_offset[i];
    if (t.offset < prev.offset + prev.bytes) {
      return CorruptData("tensor " + quoted(t.name) + " data (offset " + std::to_string(t.offset) +
                         ") overlaps tensor " + quoted(prev.name) + " (offset " +
                         std::to_string(prev.offset) + ", " + std::to_string(prev.bytes) +
                         " bytes)");
    }
  }
  return Status::Ok();
}

}  // namespace ringlm
