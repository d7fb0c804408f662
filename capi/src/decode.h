// Decoding verified incoming messages into engine options, with the range
// checks the engine's own validation does not make (enum values, sizes).
// Pure functions of the message: the fuzz target drives them directly.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "messages.h"
#include "runtime/engine_options.h"
#include "tokenizer/chat_template.h"

namespace ringlm::capi {

struct ChatCall {
  std::vector<ChatMessage> messages;
  GenerateOptions opts;
};

struct GenerateCall {
  std::vector<int32_t> tokens;
  GenerateOptions opts;
};

// kInvalidArgument naming the offending field. `rank` and `devices` are
// checked for consistency with world_size / rendezvous; whether rank 0 or
// another rank is wanted is the caller's business.
Result<EngineOptions> decode_engine_config(const Message& m);
Result<SessionOptions> decode_session_config(const Message& m);
Result<ChatCall> decode_chat_request(const Message& m);
Result<GenerateCall> decode_generate_request(const Message& m);

// Reads and decodes in one step (read_message, then the decoder above).
Result<EngineOptions> read_engine_config(const void* data, size_t len, Format format);
Result<SessionOptions> read_session_config(const void* data, size_t len, Format format);
Result<ChatCall> read_chat_request(const void* data, size_t len, Format format);
Result<GenerateCall> read_generate_request(const void* data, size_t len, Format format);

}  // namespace ringlm::capi
