#include "model/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "cpu/dequantize.h"

namespace ringlm {
namespace {

std::string quoted(std::string_view s) {
  std::string r;
  r.reserve(s.size() + 2);
  r += '\'';
  r += s;
  r += '\'';
  return r;
}

Status WrongType(std::string_view key, const GgufValue& v, std::string_view wanted) {
  return InvalidArgument("GGUF key " + quoted(key) + " has type " + v.type_name() + ", not " +
                         std::string(wanted));
}

}  // namespace

int64_t GgufTensorInfo::elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;  // validated not to overflow when parsed
  return n;
}

GgufFile::~GgufFile() {
  if (map_) munmap(map_, size_);
}

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  const std::string ctx = "GGUF " + quoted(path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string msg = ctx + ": cannot open: " + std::strerror(err);
    return err == ENOENT ? NotFound(msg) : IoError(msg);
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return IoError(ctx + ": fstat failed: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(ctx + ": not a regular file");
  }
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->size_ = static_cast<uint64_t>(st.st_size);
  if (f->size_ > 0) {
    void* m = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return IoError(ctx + ": mmap failed: " + std::strerror(err));
    }
    f->map_ = m;
    f->data_ = static_cast<const uint8_t*>(m);
  }
  ::close(fd);  // the mapping keeps the file alive
  return Parse(std::move(f));
}

Result<std::unique_ptr<GgufFile>> GgufFile::FromBytes(std::vector<uint8_t> bytes) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->owned_ = std::move(bytes);
  f->data_ = f->owned_.data();
  f->size_ = f->owned_.size();
  return Parse(std::move(f));
}

Result<std::unique_ptr<GgufFile>> GgufFile::Parse(std::unique_ptr<GgufFile> f) {
  Status st = f->ParseAll();
  if (!st.ok()) return st.WithContext(f->path_.empty() ? "GGUF" : "GGUF " + quoted(f->path_));
  return f;
}

std::vector<std::string> GgufFile::keys() const {
  std::vector<std::string> r;
  r.reserve(kv_.size());
  for (const auto& kv : kv_) r.push_back(kv.first);
  return r;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

#define RINGLM_GGUF_FIND_OR_RETURN_(v, key) \
  const GgufValue* v = find(key);           \
  if (!v) return NotFound("GGUF key " + quoted(key) + " not found")

Result<std::string> GgufFile::get_string(std::string_view key) const {
  RINGLM_GGUF_FIND_OR_RETURN_(v, key);
  if (v->type() != GgufValueType::kString) return WrongType(key, *v, "string");
  return v->as_string();
}

Result<int64_t> GgufFile::get_int(std::string_view key) const {
  RINGLM_GGUF_FIND_OR_RETURN_(v, key);
  if (!v->is_integer()) return WrongType(key, *v, "an integer");
  auto i = v->to_int();
  if (!i) return InvalidArgument("GGUF key " + quoted(key) + ": u64 value does not fit int64");
  return *i;
}

Result<double> GgufFile::get_float(std::string_view key) const {
  RINGLM_GGUF_FIND_OR_RETURN_(v, key);
  auto d = v->to_double();
  if (!d) return WrongType(key, *v, "a number");
  return *d;
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  RINGLM_GGUF_FIND_OR_RETURN_(v, key);
  if (v->type() != GgufValueType::kBool) return WrongType(key, *v, "bool");
  return v->as_bool();
}

Result<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
  RINGLM_GGUF_FIND_OR_RETURN_(v, key);
  if (v->type() != GgufValueType::kArray || v->elem_type() != GgufValueType::kString) {
    return WrongType(key, *v, "array[string]");
  }
  std::vector<std::string> r;
  r.reserve(v->size());
  for (uint64_t i = 0; i < v->size(); ++i) r.push_back(v->string_at(i));
  return r;
}

Result<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  RINGLM_GGUF_FIND_OR_RETURN_(v, key);
  const GgufValueType et = v->elem_type();
  const bool int_items = gguf_value_type_size(et) != 0 && et != GgufValueType::kBool &&
                         et != GgufValueType::kF32 && et != GgufValueType::kF64;
  if (v->type() != GgufValueType::kArray || !int_items) {
    return WrongType(key, *v, "an integer array");
  }
  std::vector<int64_t> r(v->size());
  for (uint64_t i = 0; i < v->size(); ++i) {
    auto x = v->at(i).to_int();
    if (!x) {
      return InvalidArgument("GGUF key " + quoted(key) + ": item " + std::to_string(i) +
                             " does not fit int64");
    }
    r[i] = *x;
  }
  return r;
}

Result<std::vector<double>> GgufFile::get_float_array(std::string_view key) const {
  RINGLM_GGUF_FIND_OR_RETURN_(v, key);
  const GgufValueType et = v->elem_type();
  if (v->type() != GgufValueType::kArray || gguf_value_type_size(et) == 0 ||
      et == GgufValueType::kBool) {
    return WrongType(key, *v, "a numeric array");
  }
  std::vector<double> r(v->size());
  for (uint64_t i = 0; i < v->size(); ++i) r[i] = *v->at(i).to_double();
  return r;
}

#undef RINGLM_GGUF_FIND_OR_RETURN_

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> GgufFile::tensor_bytes(const GgufTensorInfo& t) const {
  // offset + bytes were validated against the file size when parsed.
  if (t.bytes == 0) return {};
  return {data_ + data_offset_ + t.offset, static_cast<size_t>(t.bytes)};
}

Result<std::vector<float>> GgufFile::read_tensor_f32(const GgufTensorInfo& t) const {
  if (&t < tensors_.data() || &t >= tensors_.data() + tensors_.size()) {
    return InvalidArgument("tensor " + quoted(t.name) + " does not belong to GGUF file " +
                           quoted(path_));
  }
  std::vector<float> out(static_cast<size_t>(t.elements()));
  if (!kernels::cpu::dequantize(t.type, tensor_bytes(t).data(), out.data(), t.elements())) {
    return Unsupported("tensor " + quoted(t.name) + ": cannot convert type " +
                       std::string(dtype_name(t.type)) + " to f32");
  }
  return out;
}

}  // namespace ringlm
