#include "messages.h"

#include <flatbuffers/idl.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>

#include "ringlm/chat_request_generated.h"
#include "ringlm/chat_response_generated.h"
#include "ringlm/engine_config_generated.h"
#include "ringlm/engine_info_generated.h"
#include "ringlm/event_generated.h"
#include "ringlm/generate_request_generated.h"
#include "ringlm/session_config_generated.h"
#include "ringlm/transcript_generated.h"
#include "schema_text.h"

namespace ringlm::capi {
namespace {

struct TypeSpec {
  MessageType type;
  const char* name;        // root table
  const char* identifier;  // file identifier
  const char* file;        // schema file
  bool (*verify)(flatbuffers::Verifier&);
};

constexpr TypeSpec kTypes[] = {
    {MessageType::kEngineConfig, "EngineConfig", "RLEC", "engine_config.fbs",
     api::VerifyEngineConfigBuffer},
    {MessageType::kSessionConfig, "SessionConfig", "RLSC", "session_config.fbs",
     api::VerifySessionConfigBuffer},
    {MessageType::kChatRequest, "ChatRequest", "RLCQ", "chat_request.fbs",
     api::VerifyChatRequestBuffer},
    {MessageType::kGenerateRequest, "GenerateRequest", "RLGQ", "generate_request.fbs",
     api::VerifyGenerateRequestBuffer},
    {MessageType::kEvent, "Event", "RLEV", "event.fbs", api::VerifyEventBuffer},
    {MessageType::kChatResponse, "ChatResponse", "RLCR", "chat_response.fbs",
     api::VerifyChatResponseBuffer},
    {MessageType::kEngineInfo, "EngineInfo", "RLEI", "engine_info.fbs",
     api::VerifyEngineInfoBuffer},
    {MessageType::kTranscript, "Transcript", "RLTR", "transcript.fbs", api::VerifyTranscriptBuffer},
};
constexpr size_t kTypeCount = sizeof(kTypes) / sizeof(kTypes[0]);

const TypeSpec& spec(MessageType t) { return kTypes[size_t(t) - 1]; }

const char* schema_file_text(const std::string& name) {
  for (size_t i = 0; i < kSchemaFileCount; ++i)
    if (name == kSchemaFiles[i].name) return kSchemaFiles[i].text;
  return nullptr;
}

// Splits `text` into lines, dropping `include` lines (their names go to
// `includes`) and, unless `keep_root`, the root_type / file_identifier lines.
std::string strip_schema(const std::string& text, bool keep_root,
                         std::vector<std::string>* includes) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    const size_t first = line.find_first_not_of(" \t");
    const std::string body = first == std::string::npos ? "" : line.substr(first);
    if (body.rfind("include ", 0) == 0) {
      const size_t a = body.find('"'), b = body.rfind('"');
      if (a != std::string::npos && b > a) includes->push_back(body.substr(a + 1, b - a - 1));
      continue;
    }
    if (!keep_root && (body.rfind("root_type", 0) == 0 || body.rfind("file_identifier", 0) == 0))
      continue;
    out += line;
    out += '\n';
  }
  return out;
}

void append_schema(const std::string& file, bool is_root, std::set<std::string>* seen,
                   std::string* out) {
  if (!seen->insert(file).second) return;
  const char* text = schema_file_text(file);
  if (!text) return;
  std::vector<std::string> includes;
  std::string body = strip_schema(text, is_root, &includes);
  for (const std::string& inc : includes) append_schema(inc, false, seen, out);
  *out += body;
}

// natural_utf8 copies every valid UTF-8 character into strings as it is,
// the C0 controls other than \b \f \n \r \t included, which JSON forbids
// there (and a NUL would cut the NUL-terminated text short). The output is one
// line, so every such byte is inside a string: it becomes a \u00XX escape.
std::string escape_control_chars(std::string json) {
  const auto is_control = [](char c) { return static_cast<unsigned char>(c) < 0x20; };
  if (std::none_of(json.begin(), json.end(), is_control)) return json;
  std::string out;
  out.reserve(json.size() + 16);
  for (char c : json) {
    if (!is_control(c)) {
      out += c;
      continue;
    }
    char esc[8];
    std::snprintf(esc, sizeof(esc), "\\u%04x", unsigned(static_cast<unsigned char>(c)));
    out += esc;
  }
  return out;
}

flatbuffers::IDLOptions parser_options() {
  flatbuffers::IDLOptions o;
  o.strict_json = true;                     // output: quoted keys
  o.output_default_scalars_in_json = true;  // output: every field spelled
  o.natural_utf8 = true;                    // output: UTF-8 as is, not \u escapes
  o.indent_step = -1;                       // output: one line
  o.skip_unexpected_fields_in_json = true;  // input: unknown (newer) fields ignored, as in binary
  return o;
}

// One parser per type for writing JSON, built once; GenerateText only reads
// it, but a mutex keeps that independent of FlatBuffers' internals.
struct OutputParser {
  std::once_flag once;
  std::unique_ptr<flatbuffers::Parser> parser;
  std::string error;
  std::mutex mu;  // guards use of `parser`
};
OutputParser g_output[kTypeCount];

Result<flatbuffers::Parser*> output_parser(MessageType t) {
  OutputParser& op = g_output[size_t(t) - 1];
  std::call_once(op.once, [&] {
    auto p = std::make_unique<flatbuffers::Parser>(parser_options());
    if (!p->Parse(combined_schema(t).c_str())) {
      op.error = p->error_;
      return;
    }
    op.parser = std::move(p);
  });
  if (!op.parser) return Internal(std::string("embedded schema does not parse: ") + op.error);
  return op.parser.get();
}

Status verify(MessageType t, const uint8_t* data, size_t size) {
  const TypeSpec& s = spec(t);
  // Root offset and file identifier.
  if (size < 8)
    return CorruptData(std::string(s.name) + ": " + std::to_string(size) +
                       " bytes is too short for a FlatBuffer");
  if (!flatbuffers::BufferHasIdentifier(data, s.identifier)) {
    for (const TypeSpec& other : kTypes) {
      if (flatbuffers::BufferHasIdentifier(data, other.identifier))
        return InvalidArgument(std::string("expected a ") + s.name + " (file identifier " +
                               s.identifier + "), got a " + other.name + " (" + other.identifier +
                               ")");
    }
    return CorruptData(std::string("not a ") + s.name + ": file identifier " + s.identifier +
                       " missing");
  }
  flatbuffers::Verifier::Options vo;
  vo.max_depth = 16;
  vo.max_tables = 1 << 20;
  flatbuffers::Verifier v(data, size, vo);
  if (!s.verify(v))
    return CorruptData(std::string(s.name) +
                       ": the FlatBuffer does not verify (truncated or malformed)");
  return Status::Ok();
}

}  // namespace

Result<Format> check_format(int32_t format) {
  if (format == 0 || format == 1) return Format(format);
  return InvalidArgument("unknown format " + std::to_string(format) +
                         " (RINGLM_FORMAT_FLATBUFFERS = 0, RINGLM_FORMAT_JSON = 1)");
}

Result<MessageType> check_message_type(int32_t type) {
  if (type >= 1 && type <= int32_t(kTypeCount)) return MessageType(type);
  return InvalidArgument("unknown message type " + std::to_string(type));
}

const char* message_name(MessageType type) { return spec(type).name; }
const char* message_identifier(MessageType type) { return spec(type).identifier; }

Message::Message(const uint8_t* data, size_t size)
    : storage_((size + sizeof(uint64_t) - 1) / sizeof(uint64_t)), size_(size) {
  if (size) std::memcpy(storage_.data(), data, size);
}

std::string combined_schema(MessageType type) {
  std::set<std::string> seen;
  std::string out;
  append_schema(spec(type).file, true, &seen, &out);
  return out;
}

Result<Message> read_message(MessageType type, const void* data, size_t len, Format format) {
  const char* name = message_name(type);
  if (len > kMaxMessageBytes)
    return OutOfRange(std::string(name) + " of " + std::to_string(len) +
                      " bytes exceeds RINGLM_MAX_MESSAGE_BYTES (" +
                      std::to_string(kMaxMessageBytes) + ")");
  if (!data && len > 0) return InvalidArgument(std::string(name) + ": NULL data with a length");
  if (format == Format::kFlatBuffers) {
    Message m(static_cast<const uint8_t*>(data), len);  // the host's bytes are read once, here
    RINGLM_RETURN_IF_ERROR(verify(type, m.data(), m.size()));
    return m;
  }
  // JSON: copy (NUL-terminated for the parser), parse, then verify the result.
  std::string text(static_cast<const char*>(data), len);
  if (text.find('\0') != std::string::npos)
    return CorruptData(std::string(name) + " JSON contains a NUL byte");
  flatbuffers::Parser parser(parser_options());
  if (!parser.Parse(combined_schema(type).c_str()))
    return Internal("embedded schema does not parse: " + parser.error_);
  if (!parser.ParseJson(text.c_str()))
    return CorruptData(std::string(name) + " JSON: " + parser.error_);
  const uint8_t* fb = parser.builder_.GetBufferPointer();
  const size_t size = parser.builder_.GetSize();
  if (!fb || size == 0) return CorruptData(std::string(name) + " JSON: no object");
  Message m(fb, size);
  RINGLM_RETURN_IF_ERROR(verify(type, m.data(), m.size()));
  return m;
}

Result<std::string> write_message(MessageType type, const uint8_t* fb, size_t len, Format format) {
  const Message m(fb, len);  // aligned, whatever the builder's buffer was
  RINGLM_RETURN_IF_ERROR(verify(type, m.data(), m.size()).WithContext("output"));
  if (format == Format::kFlatBuffers) return std::string(reinterpret_cast<const char*>(fb), len);
  RINGLM_ASSIGN_OR_RETURN(flatbuffers::Parser * parser, output_parser(type));
  std::string json;
  OutputParser& op = g_output[size_t(type) - 1];
  std::lock_guard<std::mutex> l(op.mu);
  if (!flatbuffers::GenerateText(*parser, m.data(), &json))
    return Unsupported(std::string(message_name(type)) +
                       ": a string is not valid UTF-8, which JSON cannot carry; use "
                       "RINGLM_FORMAT_FLATBUFFERS");
  return escape_control_chars(json);
}

}  // namespace ringlm::capi
