// GGUF on-disk constants shared by the reader (gguf.h) and the writer
// (gguf_writer.h): value-type ids, ggml tensor-type ids, sanity limits.
//
// Reference: ggml/docs/gguf.md. All integers are little endian.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/dtype.h"

namespace ringlm {

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr std::string_view kGgufAlignmentKey = "general.alignment";
inline constexpr int kGgufMaxDims = 4;  // GGML_MAX_DIMS

// Sanity caps on counts read from a file; anything larger is rejected as
// corrupt before any allocation is sized by it.
inline constexpr uint64_t kGgufMaxKv = uint64_t{1} << 24;
inline constexpr uint64_t kGgufMaxTensors = uint64_t{1} << 24;
inline constexpr uint64_t kGgufMaxKeyLength = 65535;
inline constexpr uint64_t kGgufMaxTensorNameLength = 65535;
inline constexpr int kGgufMaxArrayDepth = 8;  // nested arrays
// Items of string and array arrays in the whole file, each of which costs a
// value object (tens of bytes) for as little as 8 encoded bytes: 4M is ten
// times the largest vocabulary plus merges of the supported families.
inline constexpr uint64_t kGgufMaxArrayItems = uint64_t{1} << 22;

// The ggml type ids of the tensor types ringlm reads.
inline constexpr uint32_t kGgmlTypeF32 = 0;
inline constexpr uint32_t kGgmlTypeF16 = 1;
inline constexpr uint32_t kGgmlTypeQ4_0 = 2;
inline constexpr uint32_t kGgmlTypeQ4_1 = 3;
inline constexpr uint32_t kGgmlTypeQ5_0 = 6;
inline constexpr uint32_t kGgmlTypeQ5_1 = 7;
inline constexpr uint32_t kGgmlTypeQ8_0 = 8;
inline constexpr uint32_t kGgmlTypeQ2_K = 10;
inline constexpr uint32_t kGgmlTypeQ3_K = 11;
inline constexpr uint32_t kGgmlTypeQ4_K = 12;
inline constexpr uint32_t kGgmlTypeQ5_K = 13;
inline constexpr uint32_t kGgmlTypeQ6_K = 14;
inline constexpr uint32_t kGgmlTypeIQ4_NL = 20;
inline constexpr uint32_t kGgmlTypeIQ4_XS = 23;
inline constexpr uint32_t kGgmlTypeBF16 = 30;

// Name of a ggml type id ("Q5_K"), or empty when ggml does not define it.
std::string_view ggml_type_name(uint32_t ggml_type);

// The DType a ggml type id maps to, or nullopt when ringlm does not read it.
std::optional<DType> ggml_type_to_dtype(uint32_t ggml_type);

// The ggml type id of a DType, or nullopt for DTypes GGUF files do not hold
// as tensors here (kI32).
std::optional<uint32_t> dtype_to_ggml_type(DType t);

}  // namespace ringlm
