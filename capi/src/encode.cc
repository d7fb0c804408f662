#include "encode.h"

#include "ringlm/engine_info_generated.h"
#include "ringlm/event_generated.h"
#include "ringlm/transcript_generated.h"

namespace ringlm::capi {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

api::FinishReason finish_reason(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return api::FinishReason::Stop;
    case FinishReason::kLength:
      return api::FinishReason::Length;
    case FinishReason::kCancelled:
      return api::FinishReason::Cancelled;
    case FinishReason::kContextFull:
      return api::FinishReason::ContextFull;
  }
  return api::FinishReason::Stop;
}

api::Role role(const std::string& r) {
  if (r == "system") return api::Role::System;
  if (r == "assistant") return api::Role::Assistant;
  return api::Role::User;
}

Offset<api::TurnStats> turn_stats(FlatBufferBuilder& b, const TurnStats& s) {
  auto variant = b.CreateString(s.variant);
  auto decode_variant = b.CreateString(s.decode_variant);
  auto bytes_sent = b.CreateVector(s.bytes_sent);
  auto kv_tokens = b.CreateVector(s.kv_tokens);
  auto kv_bytes = b.CreateVector(s.kv_bytes);
  api::TurnStatsBuilder t(b);
  t.add_world_size(s.world_size);
  t.add_variant(variant);
  t.add_decode_variant(decode_variant);
  t.add_new_tokens(s.new_tokens);
  t.add_cached_tokens(s.cached_tokens);
  t.add_generated_tokens(s.generated_tokens);
  t.add_prefill_ms(s.prefill_ms);
  t.add_decode_ms(s.decode_ms);
  t.add_prefill_tok_s(s.prefill_tok_s);
  t.add_decode_tok_s(s.decode_tok_s);
  t.add_comm_hidden_ms(s.comm_hidden_ms);
  t.add_comm_exposed_ms(s.comm_exposed_ms);
  t.add_bytes_sent(bytes_sent);
  t.add_kv_tokens(kv_tokens);
  t.add_evictions(s.evictions);
  t.add_rebuilt(s.rebuilt);
  t.add_shared_tokens(s.shared_tokens);
  t.add_kv_bytes(kv_bytes);
  return t.Finish();
}

Result<std::string> finish_event(FlatBufferBuilder& b, Offset<api::Event> e, Format f) {
  api::FinishEventBuffer(b, e);
  return write_message(MessageType::kEvent, b.GetBufferPointer(), b.GetSize(), f);
}

}  // namespace

Result<std::string> encode_text_event(Format f, std::string_view text,
                                      std::span<const int32_t> tokens) {
  FlatBufferBuilder b(128 + text.size() + 4 * tokens.size());
  auto t = b.CreateString(text.data(), text.size());
  auto ids = b.CreateVector(tokens.data(), tokens.size());
  api::EventBuilder e(b);
  e.add_kind(api::EventKind::Text);
  e.add_text(t);
  e.add_tokens(ids);
  return finish_event(b, e.Finish(), f);
}

Result<std::string> encode_progress_event(Format f, int64_t done, int64_t total) {
  FlatBufferBuilder b(64);
  api::EventBuilder e(b);
  e.add_kind(api::EventKind::Progress);
  e.add_prefill_done(done);
  e.add_prefill_total(total);
  return finish_event(b, e.Finish(), f);
}

Result<std::string> encode_done_event(Format f, const TurnResult& r) {
  FlatBufferBuilder b(1024 + r.text.size() + 4 * (r.tokens.size() + r.prompt_logits.size()));
  auto text = b.CreateString(r.text);
  auto tokens = b.CreateVector(r.tokens);
  auto stats = turn_stats(b, r.stats);
  Offset<flatbuffers::Vector<float>> logits;
  if (!r.prompt_logits.empty()) logits = b.CreateVector(r.prompt_logits);
  std::vector<Offset<api::TokenLogprob>> lps;
  lps.reserve(r.logprobs.size());
  for (const TokenLogprob& t : r.logprobs)
    lps.push_back(api::CreateTokenLogprob(b, t.token, t.logprob, b.CreateVector(t.top_tokens),
                                          b.CreateVector(t.top_logprobs)));
  Offset<flatbuffers::Vector<Offset<api::TokenLogprob>>> logprobs;
  if (!lps.empty()) logprobs = b.CreateVector(lps);
  api::ChatResponseBuilder cr(b);
  cr.add_text(text);
  cr.add_tokens(tokens);
  cr.add_finish_reason(finish_reason(r.finish));
  cr.add_stats(stats);
  if (!r.prompt_logits.empty()) cr.add_prompt_logits(logits);
  if (!lps.empty()) cr.add_logprobs(logprobs);
  auto response = cr.Finish();
  api::EventBuilder e(b);
  e.add_kind(api::EventKind::Done);
  e.add_response(response);
  return finish_event(b, e.Finish(), f);
}

Result<std::string> encode_error_event(Format f, const Status& error) {
  FlatBufferBuilder b(256 + error.message().size());
  auto msg = b.CreateString(error.message());
  api::EventBuilder e(b);
  e.add_kind(api::EventKind::Error);
  e.add_status(int32_t(error.code()));
  e.add_message(msg);
  return finish_event(b, e.Finish(), f);
}

Result<std::string> encode_engine_info(Format f, const EngineInfo& info, int32_t abi_version) {
  FlatBufferBuilder b(1024);
  const ModelConfig& m = info.model;
  auto arch = b.CreateString(m.arch);
  auto name = b.CreateString(m.name);
  api::ModelInfoBuilder mb(b);
  mb.add_arch(arch);
  mb.add_name(name);
  mb.add_n_layers(m.n_layers);
  mb.add_dim(m.dim);
  mb.add_n_heads(m.n_heads);
  mb.add_n_kv_heads(m.n_kv_heads);
  mb.add_head_dim(m.head_dim);
  mb.add_ffn_dim(m.ffn_dim);
  mb.add_vocab(m.vocab);
  mb.add_context_length(m.context_length);
  auto model = mb.Finish();
  auto version = b.CreateString(info.version);
  auto backend = b.CreateString(info.backend);
  auto tmpl = b.CreateString(info.chat_template);
  auto kv_type = b.CreateString(kernels::kv_type_name(info.kv_type));
  auto weight_type = b.CreateString(weight_type_name(info.weight_type));
  api::EngineInfoBuilder eb(b);
  eb.add_version(version);
  eb.add_abi_version(abi_version);
  eb.add_model(model);
  eb.add_world_size(info.world_size);
  eb.add_backend(backend);
  eb.add_chat_template(tmpl);
  eb.add_model_fingerprint(info.model_fingerprint);
  eb.add_attn_flops(info.calibration.attn_flops);
  eb.add_link_bytes_per_s(info.calibration.link_bytes_per_s);
  eb.add_kv_cache_type(kv_type);
  eb.add_weight_type(weight_type);
  api::FinishEngineInfoBuffer(b, eb.Finish());
  return write_message(MessageType::kEngineInfo, b.GetBufferPointer(), b.GetSize(), f);
}

Result<std::string> encode_transcript(Format f, const std::vector<ChatMessage>& messages,
                                      int64_t token_count) {
  FlatBufferBuilder b(1024);
  std::vector<Offset<api::Message>> ms;
  ms.reserve(messages.size());
  for (const ChatMessage& m : messages)
    ms.push_back(api::CreateMessage(b, role(m.role), b.CreateString(m.content)));
  auto vec = b.CreateVector(ms);
  api::TranscriptBuilder tb(b);
  tb.add_messages(vec);
  tb.add_token_count(token_count);
  api::FinishTranscriptBuffer(b, tb.Finish());
  return write_message(MessageType::kTranscript, b.GetBufferPointer(), b.GetSize(), f);
}

}  // namespace ringlm::capi
