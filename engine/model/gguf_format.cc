#include "model/gguf_format.h"

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

std::optional<DType> ggml_type_to_dtype(uint32_t ggml_type) {
  switch (ggml_type) {
    case kGgmlTypeF32:
      return DType::kF32;
    case kGgmlTypeF16:
      return DType::kF16;
    case kGgmlTypeQ4_0:
      return DType::kQ4_0;
    case kGgmlTypeQ4_1:
      return DType::kQ4_1;
    case kGgmlTypeQ8_0:
      return DType::kQ8_0;
    case kGgmlTypeBF16:
      return DType::kBF16;
    default:
      return std::nullopt;
  }
}

std::optional<uint32_t> dtype_to_ggml_type(DType t) {
  switch (t) {
    case DType::kF32:
      return kGgmlTypeF32;
    case DType::kF16:
      return kGgmlTypeF16;
    case DType::kQ4_0:
      return kGgmlTypeQ4_0;
    case DType::kQ4_1:
      return kGgmlTypeQ4_1;
    case DType::kQ8_0:
      return kGgmlTypeQ8_0;
    case DType::kBF16:
      return kGgmlTypeBF16;
    case DType::kI32:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace ringlm
