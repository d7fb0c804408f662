// Encoding what the library returns: events, responses, engine info and
// transcripts, as finished FlatBuffers converted to the caller's format.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "messages.h"
#include "runtime/engine.h"

namespace ringlm::capi {

Result<std::string> encode_text_event(Format f, std::string_view text,
                                      std::span<const int32_t> tokens);
Result<std::string> encode_progress_event(Format f, int64_t done, int64_t total);
Result<std::string> encode_done_event(Format f, const TurnResult& r);
// `error` is not Ok.
Result<std::string> encode_error_event(Format f, const Status& error);

Result<std::string> encode_engine_info(Format f, const EngineInfo& info, int32_t abi_version);
Result<std::string> encode_transcript(Format f, const std::vector<ChatMessage>& messages,
                                      int64_t token_count);

}  // namespace ringlm::capi
