// GgufFile: a validating reader of GGUF v2/v3 model files over mmap.
//
// Open() maps the file read-only and parses the header, every metadata
// key/value and every tensor info up front. Every offset and length read from
// the file is bounds-checked against the file size (overflow-safe), counts are
// capped, and nested arrays are depth-limited, so a damaged or hostile file
// yields a Status, never a crash or an out-of-bounds read:
//   kNotFound     the path does not exist (Open only)
//   kIoError      the OS refused open/fstat/mmap
//   kCorruptData  bad magic or version, truncation, unknown value or ggml type
//                 id, n_dims > 4, negative or overflowing dims, a row not a
//                 multiple of its block size, duplicate keys or tensor names,
//                 a bad general.alignment, a misaligned tensor offset, tensor
//                 data beyond the end of the file
//   kUnsupported  a valid file ringlm cannot read: GGUF v1, big-endian files,
//                 versions newer than 3, tensor types other than F32, F16,
//                 BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K-Q6_K, IQ4_NL, IQ4_XS
//                 (the message names the type)
// Messages name the key or tensor at fault.
//
// Thread-safety: a GgufFile is immutable after Open(); all const methods may
// be called concurrently. Pointers, spans and references it returns stay valid
// for the lifetime of the GgufFile.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "model/gguf_value.h"

namespace ringlm {

struct GgufTensorInfo {
  std::string name;
  DType type = DType::kF32;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the innermost (columns); 0..4 dims
  uint64_t offset = 0;      // relative to the start of the data section
  uint64_t bytes = 0;       // size of the tensor's data

  // Product of ne (1 for a 0-dim tensor).
  int64_t elements() const;
};

class GgufFile {
 public:
  // Maps and validates the file at `path`.
  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Validates an in-memory file, taking ownership of `bytes`; path() is "".
  static Result<std::unique_ptr<GgufFile>> FromBytes(std::vector<uint8_t> bytes);

  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  const std::string& path() const { return path_; }
  uint64_t file_size() const { return size_; }
  uint32_t alignment() const { return alignment_; }
  // Absolute file offset of the data section (a multiple of alignment()).
  uint64_t data_offset() const { return data_offset_; }

  // --- metadata ---
  // Keys in file order.
  std::vector<std::string> keys() const;
  // The value of `key`, or nullptr when absent.
  const GgufValue* find(std::string_view key) const;

  // Typed getters: kNotFound naming the key when absent; kInvalidArgument
  // naming the key and its actual type when the type does not fit.
  Result<std::string> get_string(std::string_view key) const;
  Result<int64_t> get_int(std::string_view key) const;   // any integer type (u64 must fit)
  Result<double> get_float(std::string_view key) const;  // float or integer types
  Result<bool> get_bool(std::string_view key) const;
  Result<std::vector<std::string>> get_string_array(std::string_view key) const;
  Result<std::vector<int64_t>> get_int_array(std::string_view key) const;
  Result<std::vector<double>> get_float_array(std::string_view key) const;

  // --- tensors ---
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  // The tensor named `name`, or nullptr when absent.
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  // The tensor's raw bytes (validated to lie inside the file).
  std::span<const uint8_t> tensor_bytes(const GgufTensorInfo& t) const;
  // The tensor converted to f32, ggml order (row-major with ne[0] innermost).
  // kInvalidArgument if `t` does not belong to this file.
  Result<std::vector<float>> read_tensor_f32(const GgufTensorInfo& t) const;

  // A 64-bit hash of the header, metadata and tensor infos (everything before
  // the data section's padding). Equal files give equal fingerprints; it is
  // stable across runs and machines (little-endian hosts).
  uint64_t fingerprint() const { return fingerprint_; }

 private:
  GgufFile() = default;
  static Result<std::unique_ptr<GgufFile>> Parse(std::unique_ptr<GgufFile> f);
  Status ParseAll();  // gguf_parse.cc

  std::string path_;
  const uint8_t* data_ = nullptr;  // the whole file
  uint64_t size_ = 0;
  void* map_ = nullptr;  // mmap base, or nullptr when owned_ holds the bytes
  std::vector<uint8_t> owned_;

  uint32_t version_ = 0;
  uint32_t alignment_ = 0;
  uint64_t data_offset_ = 0;
  uint64_t fingerprint_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;  // file order
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace ringlm
