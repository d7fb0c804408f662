// The session save file: everything needed to bring a conversation back.
//
// Layout (little endian):
//   magic "RINGLMSS" | u32 format version | string engine version
//   | u64 model fingerprint | u32 world size | u64 decode steps
//   | u32 message count, then per message: string role, string content
//   | u64 token count, i32 tokens[] | u64 unfed count, i32 unfed[]
//   | u32 shard count (0 or world size),
//   then per shard: u64 bytes, bytes | u64 checksum of all before it.
// Strings are u64 length + bytes. The checksum is XXH64 with seed 0
// (core/checksum.h); versions 1 and 2 used byte-wise FNV-1a, and version 1
// has no unfed tokens: both are read as well. Readers verify the checksum
// before trusting any length, and every length against the bytes left.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/chat_template.h"

namespace ringlm {

inline constexpr uint32_t kSessionFileVersion = 3;

struct SessionFile {
  std::string engine_version;
  uint64_t model_fingerprint = 0;
  uint32_t world_size = 1;
  uint64_t decode_steps = 0;
  std::vector<ChatMessage> messages;
  std::vector<int32_t> tokens;  // those the shards hold, position i = token i
  std::vector<int32_t> unfed;   // the token history past the KV (raw mode)
  // Each rank's KV shard (empty when the KV was not resident), as views: a
  // session's KV can be most of a host's memory, so a SessionFile holds no
  // copy of it. The bytes belong to whoever filled it in (the saver's
  // exported shards; for decode_session_file, the file's bytes), which must
  // keep them alive while the SessionFile is used.
  std::vector<std::span<const uint8_t>> shards;
};

// The whole file in memory (tests build files with it; the engine writes
// with write_session_file).
std::vector<uint8_t> encode_session_file(const SessionFile& f);
// Writes encode_session_file(f) to `path` without building it in memory:
// each part is hashed and written to path + ".tmp" as it goes; the finished
// file is flushed to the disk (fsync) before it is renamed over `path`, and
// the directory after, so a crash leaves the old file or the new one, never
// a truncated one. A new file is created 0600 (a conversation is private);
// a replaced file keeps its permissions. kIoError when the file cannot be
// written, synced or renamed; `path` is then as it was and no .tmp is left.
Status write_session_file(const std::string& path, const SessionFile& f);
// The shards of the result point into `bytes`. kCorruptData for a bad magic,
// checksum or length; kUnsupported for another format version (the message
// names both versions).
Result<SessionFile> decode_session_file(std::span<const uint8_t> bytes);

// kNotFound when it cannot be opened, kResourceExhausted beyond max_bytes,
// kIoError for a read error. Reads into one buffer of the file's size.
Result<std::vector<uint8_t>> read_whole_file(const std::string& path, size_t max_bytes);

}  // namespace ringlm
