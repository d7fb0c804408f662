// libFuzzer target over the C ABI's decoding of untrusted messages: the
// size cap, aligned copy and verification of FlatBuffers, FlatBuffers' JSON
// parser over the embedded schemas, the typed decoders with their range
// checks, and the JSON writer on whatever verified.
//
// Input: one selector byte (bit 0: format, 1 = JSON; bits 1..3: message
// type - 1), then the message bytes. Built and run by tests/capi/fuzz_test.sh
// (clang -fsanitize=fuzzer,address,undefined); see docs/c-api.md.
//
// With RINGLM_FUZZ_SEED_DIR set, LLVMFuzzerInitialize writes a seed corpus
// there first (each sample message in both formats).
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "decode.h"
#include "messages.h"

using namespace ringlm;
using namespace ringlm::capi;

namespace {

const char* const kSamples[] = {
    "{\"model_path\": \"/m.gguf\", \"world_size\": 2, \"rank\": 0, \"devices\": [\"cpu\", "
    "\"cpu\"], "
    "\"rendezvous\": \"\", \"kv_budget_bytes\": 1048576, \"prefill_chunk\": 64, \"cp_variant\": "
    "\"PassQ\", "
    "\"decode_variant\": \"RingPassQ\", \"attn_flops\": 1e12, \"chat_template\": \"chatml\"}",
    "{\"system_prompt\": \"You are terse.\"}",
    "{\"messages\": [{\"role\": \"System\", \"content\": \"s\"}, {\"role\": \"User\", \"content\": "
    "\"hi\"}], "
    "\"sampling\": {\"temperature\": 0.7, \"top_k\": 40, \"top_p\": 0.9, \"min_p\": 0.05, "
    "\"seed\": 7}, "
    "\"max_tokens\": 16, \"stop\": [\"\\n\\n\", \"User:\"], \"variant\": \"PassKV\"}",
    "{\"tokens\": [1, 2, 3, 400], \"max_tokens\": 4, \"want_prompt_logits\": true, \"stop\": "
    "[\"x\"]}",
    "{\"kind\": \"Done\", \"response\": {\"text\": \"hi\", \"tokens\": [5], \"finish_reason\": "
    "\"Stop\", "
    "\"stats\": {\"world_size\": 2, \"variant\": \"pass-kv\", \"bytes_sent\": [1, 2], "
    "\"kv_tokens\": [3, 4]}}}",
    "{\"text\": \"x\", \"finish_reason\": \"Cancelled\", \"prompt_logits\": [0.5, -1.0]}",
    "{\"version\": \"0.1.0\", \"model\": {\"arch\": \"llama\", \"vocab\": 100}, \"world_size\": 2}",
    "{\"messages\": [{\"role\": \"Assistant\", \"content\": \"ok\"}], \"token_count\": 9}",
};

void write_seed(const std::string& dir, const std::string& name, uint8_t selector,
                const std::string& bytes) {
  std::ofstream f(dir + "/" + name, std::ios::binary);
  f.put(char(selector));
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

void run(MessageType type, Format format, const uint8_t* data, size_t size) {
  switch (type) {
    case MessageType::kEngineConfig:
      (void)read_engine_config(data, size, format);
      break;
    case MessageType::kSessionConfig:
      (void)read_session_config(data, size, format);
      break;
    case MessageType::kChatRequest:
      (void)read_chat_request(data, size, format);
      break;
    case MessageType::kGenerateRequest:
      (void)read_generate_request(data, size, format);
      break;
    default:
      break;
  }
  Result<Message> m = read_message(type, data, size, format);
  if (!m.ok()) return;
  (void)write_message(type, m->data(), m->size(), Format::kJson);
  (void)write_message(type, m->data(), m->size(), Format::kFlatBuffers);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("RINGLM_FUZZ_SEED_DIR");
  if (!dir || !*dir) return 0;
  for (int t = 1; t <= 8; ++t) {
    const std::string json = kSamples[t - 1];
    const uint8_t sel = uint8_t((t - 1) << 1);
    write_seed(dir, "json_" + std::to_string(t), sel | 1, json);
    Result<Message> m = read_message(MessageType(t), json.data(), json.size(), Format::kJson);
    if (m.ok())
      write_seed(dir, "fb_" + std::to_string(t), sel,
                 std::string(reinterpret_cast<const char*>(m->data()), m->size()));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Format format = (data[0] & 1) ? Format::kJson : Format::kFlatBuffers;
  const MessageType type = MessageType(((data[0] >> 1) & 7) + 1);
  run(type, format, data + 1, size - 1);
  return 0;
}
