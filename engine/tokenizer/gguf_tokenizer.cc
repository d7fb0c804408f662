#include "tokenizer/gguf_tokenizer.h"

#include <limits>

#include "model/gguf.h"
#include "tokenizer/chat_template.h"

namespace ringlm {
namespace {

// Reads an optional token id into `*id`, leaving the default when absent.
Status read_id(const GgufFile& f, std::string_view key, int32_t* id) {
  if (f.find(key) == nullptr) return Status::Ok();
  RINGLM_ASSIGN_OR_RETURN(const int64_t v, f.get_int(key));
  if (v < 0 || v > std::numeric_limits<int32_t>::max()) {
    return CorruptData(std::string(key) + " = " + std::to_string(v) + " is not a valid token id");
  }
  *id = static_cast<int32_t>(v);
  return Status::Ok();
}

Status read_flag(const GgufFile& f, std::string_view key, bool* flag) {
  if (f.find(key) == nullptr) return Status::Ok();
  RINGLM_ASSIGN_OR_RETURN(*flag, f.get_bool(key));
  return Status::Ok();
}

// Text of token `id` straight from the file's token list; "" when absent.
std::string token_text(const GgufFile& f, int32_t id) {
  const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->type() != GgufValueType::kArray ||
      tokens->elem_type() != GgufValueType::kString || id < 0 ||
      static_cast<uint64_t>(id) >= tokens->size()) {
    return {};
  }
  return tokens->string_at(static_cast<uint64_t>(id));
}

}  // namespace

Result<TokenizerData> tokenizer_data_from_gguf(const GgufFile& file) {
  TokenizerData d;
  RINGLM_ASSIGN_OR_RETURN(d.model, file.get_string("tokenizer.ggml.model"));
  d.pre = "default";
  if (file.find("tokenizer.ggml.pre") != nullptr) {
    RINGLM_ASSIGN_OR_RETURN(d.pre, file.get_string("tokenizer.ggml.pre"));
  }
  RINGLM_ASSIGN_OR_RETURN(d.tokens, file.get_string_array("tokenizer.ggml.tokens"));
  // The per-token arrays hold one item per token: checked before they are
  // widened, so a hostile item count costs no memory first.
  for (const char* key : {"tokenizer.ggml.token_type", "tokenizer.ggml.scores"}) {
    const GgufValue* v = file.find(key);
    if (v && v->type() == GgufValueType::kArray && v->size() != d.tokens.size()) {
      return CorruptData("GGUF key '" + std::string(key) + "' has " + std::to_string(v->size()) +
                         " items for " + std::to_string(d.tokens.size()) + " tokens");
    }
  }
  if (file.find("tokenizer.ggml.token_type") != nullptr) {
    RINGLM_ASSIGN_OR_RETURN(std::vector<int64_t> types,
                            file.get_int_array("tokenizer.ggml.token_type"));
    d.token_types.reserve(types.size());
    for (int64_t t : types) {
      // Out-of-range values are reported by Tokenizer::Create.
      d.token_types.push_back(t < 0 || t > 255 ? -1 : static_cast<int32_t>(t));
    }
  }
  if (file.find("tokenizer.ggml.scores") != nullptr) {
    RINGLM_ASSIGN_OR_RETURN(std::vector<double> scores,
                            file.get_float_array("tokenizer.ggml.scores"));
    d.scores.assign(scores.begin(), scores.end());
  }
  if (file.find("tokenizer.ggml.merges") != nullptr) {
    RINGLM_ASSIGN_OR_RETURN(d.merges, file.get_string_array("tokenizer.ggml.merges"));
  }
  if (d.model == "llama") {
    d.bos_id = 1;
    d.eos_id = 2;
    d.unk_id = 0;
    d.add_bos = true;
    d.add_space_prefix = true;
  }
  RINGLM_RETURN_IF_ERROR(read_id(file, "tokenizer.ggml.bos_token_id", &d.bos_id));
  RINGLM_RETURN_IF_ERROR(read_id(file, "tokenizer.ggml.eos_token_id", &d.eos_id));
  RINGLM_RETURN_IF_ERROR(read_id(file, "tokenizer.ggml.eot_token_id", &d.eot_id));
  RINGLM_RETURN_IF_ERROR(read_id(file, "tokenizer.ggml.unknown_token_id", &d.unk_id));
  RINGLM_RETURN_IF_ERROR(read_id(file, "tokenizer.ggml.padding_token_id", &d.pad_id));
  RINGLM_RETURN_IF_ERROR(read_flag(file, "tokenizer.ggml.add_bos_token", &d.add_bos));
  RINGLM_RETURN_IF_ERROR(read_flag(file, "tokenizer.ggml.add_eos_token", &d.add_eos));
  RINGLM_RETURN_IF_ERROR(read_flag(file, "tokenizer.ggml.add_space_prefix", &d.add_space_prefix));
  return d;
}

Result<ChatTemplate> ChatTemplate::FromGguf(const GgufFile& file, std::string_view override_name) {
  std::string source;
  if (file.find("tokenizer.chat_template") != nullptr) {
    RINGLM_ASSIGN_OR_RETURN(source, file.get_string("tokenizer.chat_template"));
  }
  int32_t bos = -1, eos = -1;
  RINGLM_RETURN_IF_ERROR(read_id(file, "tokenizer.ggml.bos_token_id", &bos));
  RINGLM_RETURN_IF_ERROR(read_id(file, "tokenizer.ggml.eos_token_id", &eos));
  return ChatTemplate::Create(source, override_name, token_text(file, bos), token_text(file, eos));
}

}  // namespace ringlm
