// GgufWriter: builds a GGUF v3 (or v2) file in memory; used by tests and by
// tools that generate small models.
//
// Keys are written in insertion order (adding a key again replaces its value
// in place); tensors in insertion order, each at the next multiple of the
// alignment in the data section. The alignment is general.alignment when that
// key was added as a u32 (a power of two), else 32.
//
// Not thread-safe. Errors: add_tensor* return kInvalidArgument for a bad
// shape, size or duplicate name; to_bytes()/write() return kInvalidArgument
// for a bad general.alignment and kIoError when the file cannot be written.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "model/gguf_value.h"

namespace ringlm {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t version = 3) : version_(version) {}

  void add(std::string key, GgufValue value);
  void add_string(std::string key, std::string v);
  void add_u32(std::string key, uint32_t v);
  void add_i32(std::string key, int32_t v);
  void add_u64(std::string key, uint64_t v);
  void add_f32(std::string key, float v);
  void add_bool(std::string key, bool v);
  void add_string_array(std::string key, const std::vector<std::string>& v);
  void add_f32_array(std::string key, const std::vector<float>& v);
  void add_i32_array(std::string key, const std::vector<int32_t>& v);

  // A tensor of type `type` and ggml-order shape `ne` (0..4 dims, ne[0] a
  // multiple of the block size) from its encoded bytes (exactly
  // dtype_row_bytes(type, elements) of them).
  Status add_tensor(std::string name, DType type, std::vector<int64_t> ne,
                    std::span<const uint8_t> bytes);
  // The same from f32 values, encoded to `type` (see gguf_quantize.h).
  Status add_tensor_f32(std::string name, DType type, std::vector<int64_t> ne,
                        std::span<const float> values);

  Result<std::vector<uint8_t>> to_bytes() const;
  Status write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> data;
  };

  uint32_t version_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace ringlm
