// The messages of the C ABI: their types and formats, reading untrusted
// incoming bytes (size cap, aligned copy, verification, JSON parsing) and
// writing outgoing ones.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace ringlm::capi {

enum class Format : int32_t { kFlatBuffers = 0, kJson = 1 };

enum class MessageType : int32_t {
  kEngineConfig = 1,
  kSessionConfig = 2,
  kChatRequest = 3,
  kGenerateRequest = 4,
  kEvent = 5,
  kChatResponse = 6,
  kEngineInfo = 7,
  kTranscript = 8,
};

// RINGLM_MAX_MESSAGE_BYTES.
inline constexpr size_t kMaxMessageBytes = size_t(64) << 20;

// kInvalidArgument for a value outside the enum.
Result<Format> check_format(int32_t format);
Result<MessageType> check_message_type(int32_t type);

const char* message_name(MessageType type);        // "EngineConfig"
const char* message_identifier(MessageType type);  // "RLEC"

// A verified FlatBuffer of one message type, owned, aligned to 8 bytes.
class Message {
 public:
  Message() = default;
  Message(const uint8_t* data, size_t size);  // copies

  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(storage_.data()); }
  size_t size() const { return size_; }
  template <class T>
  const T* root() const {
    return flatbuffers::GetRoot<T>(data());
  }

 private:
  std::vector<uint64_t> storage_;
  size_t size_ = 0;
};

// Reads `len` untrusted bytes at `data` as a `type` message in `format`:
// kOutOfRange above kMaxMessageBytes; the bytes are copied before anything
// else looks at them; JSON is parsed against the embedded schema, then the
// FlatBuffer is verified. kInvalidArgument for a NULL pointer with len > 0 or
// another ringlm message's file identifier; kCorruptData for bytes that do
// not verify or parse.
Result<Message> read_message(MessageType type, const void* data, size_t len, Format format);

// Verifies a FlatBuffer the library built and encodes it in `format`: the
// bytes as they are, or JSON text (every field spelled, enums by name).
Result<std::string> write_message(MessageType type, const uint8_t* fb, size_t len, Format format);

// The schema text of `type`'s file with its includes inlined (one parser
// input, root_type and file_identifier of `type` only).
std::string combined_schema(MessageType type);

}  // namespace ringlm::capi
