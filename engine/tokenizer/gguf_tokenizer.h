// Reading the tokenizer out of a GGUF file's metadata.
//
// ChatTemplate::FromGguf (declared in chat_template.h) is defined here too.
#pragma once

#include "core/status.h"
#include "tokenizer/tokenizer_data.h"

namespace ringlm {

class GgufFile;

// Fills TokenizerData from the `tokenizer.ggml.*` keys:
//   model (required), pre (default "default"), tokens (required),
//   token_type, scores, merges, bos/eos/eot/unknown/padding_token_id,
//   add_bos_token, add_eos_token, add_space_prefix.
// Absent keys take llama.cpp's defaults: for "llama" bos 1, eos 2, unknown 0,
// add_bos and add_space_prefix true; for other models no special ids and all
// flags false.
// Errors: the file's own (kNotFound for a missing required key,
// kInvalidArgument for a key of the wrong type); kCorruptData for an id that
// does not fit an int32. Semantic checks happen in Tokenizer::Create.
Result<TokenizerData> tokenizer_data_from_gguf(const GgufFile& file);

}  // namespace ringlm
