#include "model/gguf_format.h"

#include <utility>

namespace ringlm {

std::string_view ggml_type_name(uint32_t ggml_type) {
  // Ids as defined by ggml.h; gaps are ids ggml has retired.
  switch (ggml_type) {
    case 0:
      return "F32";
    case 1:
      return "F16";
    case 2:
      return "Q4_0";
    case 3:
      return "Q4_1";
    case 6:
      return "Q5_0";
    case 7:
      return "Q5_1";
    case 8:
      return "Q8_0";
    case 9:
      return "Q8_1";
    case 10:
      return "Q2_K";
    case 11:
      return "Q3_K";
    case 12:
      return "Q4_K";
    case 13:
      return "Q5_K";
    case 14:
      return "Q6_K";
    case 15:
      return "Q8_K";
    case 16:
      return "IQ2_XXS";
    case 17:
      return "IQ2_XS";
    case 18:
      return "IQ3_XXS";
    case 19:
      return "IQ1_S";
    case 20:
      return "IQ4_NL";
    case 21:
      return "IQ3_S";
    case 22:
      return "IQ2_S";
    case 23:
      return "IQ4_XS";
    case 24:
      return "I8";
    case 25:
      return "I16";
    case 26:
      return "I32";
    case 27:
      return "I64";
    case 28:
      return "F64";
    case 29:
      return "IQ1_M";
    case 30:
      return "BF16";
    case 34:
      return "TQ1_0";
    case 35:
      return "TQ2_0";
    case 39:
      return "MXFP4";
    default:
      return {};
  }
}

namespace {

// Every DType a GGUF tensor can hold, with its ggml type id.
constexpr std::pair<DType, uint32_t> kTensorTypes[] = {
    {DType::kF32, kGgmlTypeF32},       {DType::kF16, kGgmlTypeF16},
    {DType::kBF16, kGgmlTypeBF16},     {DType::kQ8_0, kGgmlTypeQ8_0},
    {DType::kQ4_0, kGgmlTypeQ4_0},     {DType::kQ4_1, kGgmlTypeQ4_1},
    {DType::kQ5_0, kGgmlTypeQ5_0},     {DType::kQ5_1, kGgmlTypeQ5_1},
    {DType::kQ2_K, kGgmlTypeQ2_K},     {DType::kQ3_K, kGgmlTypeQ3_K},
    {DType::kQ4_K, kGgmlTypeQ4_K},     {DType::kQ5_K, kGgmlTypeQ5_K},
    {DType::kQ6_K, kGgmlTypeQ6_K},     {DType::kIQ4_NL, kGgmlTypeIQ4_NL},
    {DType::kIQ4_XS, kGgmlTypeIQ4_XS},
};

}  // namespace

std::optional<DType> ggml_type_to_dtype(uint32_t ggml_type) {
  for (const auto& [t, id] : kTensorTypes)
    if (id == ggml_type) return t;
  return std::nullopt;
}

std::optional<uint32_t> dtype_to_ggml_type(DType t) {
  for (const auto& [d, id] : kTensorTypes)
    if (d == t) return id;
  return std::nullopt;
}

}  // namespace ringlm
