// The session save file: everything needed to bring a conversation back.
//
// Layout (little endian):
//   magic "RINGLMSS" | u32 format version | string engine version
//   | u64 model fingerprint | u32 world size | u64 decode steps
//   | u32 message count, then per message: string role, string content
//   | u64 token count, i32 tokens[] | u64 unfed count, i32 unfed[]
//   | u32 shard count (0 or world size),
//   then per shard: u64 bytes, bytes | u64 FNV-1a checksum of all before it.
// Strings are u64 length + bytes. Readers verify the checksum before
// trusting any length, and every length against the bytes left. Version 1
// files (no unfed tokens) are read as well.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/chat_template.h"

namespace ringlm {

inline constexpr uint32_t kSessionFileVersion = 2;

struct SessionFile {
  std::string engine_version;
  uint64_t model_fingerprint = 0;
  uint32_t world_size = 1;
  uint64_t decode_steps = 0;
  std::vector<ChatMessage> messages;
  std::vector<int32_t> tokens;  // those the shards hold, position i = token i
  std::vector<int32_t> unfed;   // the token history past the KV (raw mode)
  std::vector<std::vector<uint8_t>> shards;  // empty when the KV was not resident
};

std::vector<uint8_t> encode_session_file(const SessionFile& f);
// kCorruptData for a bad magic, checksum or length; kUnsupported for another
// format version (the message names both versions).
Result<SessionFile> decode_session_file(const std::vector<uint8_t>& bytes);

Status write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes);
Result<std::vector<uint8_t>> read_whole_file(const std::string& path, size_t max_bytes);

}  // namespace ringlm
