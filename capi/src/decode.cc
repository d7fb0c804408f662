#include "decode.h"

#include <cmath>
#include <string>
#include <utility>

#include "ringlm/chat_request_generated.h"
#include "ringlm/engine_config_generated.h"
#include "ringlm/generate_request_generated.h"
#include "ringlm/session_config_generated.h"
#include "runtime/logprobs.h"
#include "runtime/sampler.h"

namespace ringlm::capi {
namespace {

std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

// A schema enum's engine counterpart, looked up in `table`; a value the table
// lacks (a newer writer's value, or garbage) is refused with the field's name.
template <class From, class To, size_t N>
Result<To> map_enum(From v, const std::pair<From, To> (&table)[N], const char* field) {
  for (const auto& [from, to] : table) {
    if (from == v) return to;
  }
  return InvalidArgument(std::string(field) + ": unknown value " + std::to_string(int(v)));
}

constexpr std::pair<api::CpVariant, CpVariant> kCpVariants[] = {
    {api::CpVariant::Auto, CpVariant::kAuto},
    {api::CpVariant::PassKV, CpVariant::kPassKV},
    {api::CpVariant::PassQ, CpVariant::kPassQ}};
constexpr std::pair<api::DecodeVariant, DecodeVariant> kDecodeVariants[] = {
    {api::DecodeVariant::Auto, kDefaultDecodeVariant},
    {api::DecodeVariant::AllGather, DecodeVariant::kAllGather},
    {api::DecodeVariant::RingPassQ, DecodeVariant::kRingPassQ}};
constexpr std::pair<api::KvCacheType, KvCacheType> kKvCacheTypes[] = {
    {api::KvCacheType::Auto, KvCacheType::kAuto},
    {api::KvCacheType::F32, KvCacheType::kF32},
    {api::KvCacheType::BF16, KvCacheType::kBF16}};
constexpr std::pair<api::WeightType, WeightType> kWeightTypes[] = {
    {api::WeightType::Auto, WeightType::kAuto},
    {api::WeightType::F32, WeightType::kF32},
    {api::WeightType::BF16, WeightType::kBF16},
    {api::WeightType::Q8_0, WeightType::kQ8_0}};
constexpr std::pair<api::Role, const char*> kRoles[] = {
    {api::Role::User, "user"}, {api::Role::Assistant, "assistant"}, {api::Role::System, "system"}};

Result<SamplingParams> sampling(const api::Sampling* s) {
  SamplingParams p;
  if (s) {
    p.temperature = s->temperature();
    p.top_k = s->top_k();
    p.top_p = s->top_p();
    p.min_p = s->min_p();
    p.repetition_penalty = s->repetition_penalty();
    p.repetition_window = s->repetition_window();
    p.seed = s->seed();
  }
  Status st = Sampler::Validate(p);
  if (!st.ok()) return st.WithContext("sampling");
  return p;
}

Result<std::vector<std::string>> stop_strings(
    const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* v) {
  std::vector<std::string> out;
  if (!v) return out;
  out.reserve(v->size());
  for (const flatbuffers::String* s : *v) out.push_back(s->str());
  return out;
}

// The fields ChatRequest and GenerateRequest share, of either.
template <typename Request>
Result<GenerateOptions> generate_options(const Request& r) {
  GenerateOptions o;
  const api::Sampling* s = r.sampling();
  const int32_t max_tokens = r.max_tokens();
  const auto* stop = r.stop();
  const api::CpVariant variant = r.variant();
  RINGLM_RETURN_IF_ERROR(check_top_logprobs(r.top_logprobs()));
  o.logprobs = r.logprobs();  // top_logprobs > 0 implies it (GenerateOptions)
  o.top_logprobs = r.top_logprobs();
  RINGLM_ASSIGN_OR_RETURN(o.sampling, sampling(s));
  if (max_tokens < 0)
    return InvalidArgument("max_tokens must be >= 0, got " + std::to_string(max_tokens));
  o.max_tokens = max_tokens;
  RINGLM_ASSIGN_OR_RETURN(o.stop, stop_strings(stop));
  RINGLM_ASSIGN_OR_RETURN(o.variant, map_enum(variant, kCpVariants, "variant"));
  return o;
}

// devices: all "cpu", or "cuda:K", "cuda:K+1", ... (the engine gives rank r
// of this process device first + r).
Status apply_devices(const api::EngineConfig& c, int local_ranks, EngineOptions* o) {
  const auto* devices = c.devices();
  if (!devices || devices->size() == 0) return Status::Ok();
  if (int64_t(devices->size()) != local_ranks)
    return InvalidArgument("devices: " + std::to_string(devices->size()) + " given for " +
                           std::to_string(local_ranks) + " rank(s) in this process");
  int first = -1;
  for (uint32_t r = 0; r < devices->size(); ++r) {
    const std::string name = devices->Get(r)->str();
    if (name == "cpu") {
      if (first >= 0) return Unsupported("devices: mixing cpu and cuda ranks is not supported");
      continue;
    }
    if (name.rfind("cuda", 0) != 0)
      return InvalidArgument("devices: unknown device '" + name + "' (\"cpu\" or \"cuda:N\")");
    int k = 0;
    const std::string num = name.size() > 5 && name[4] == ':' ? name.substr(5) : "0";
    if (name != "cuda" && (name.size() <= 5 || name[4] != ':' ||
                           num.find_first_not_of("0123456789") != std::string::npos || num.size() > 4))
      return InvalidArgument("devices: malformed device '" + name + "' (\"cuda:N\")");
    k = std::stoi(num);
    if (r > 0 && first < 0) return Unsupported("devices: mixing cpu and cuda ranks is not supported");
    if (r == 0) first = k;
    if (k != first + int(r))
      return Unsupported("devices: CUDA ranks of one process take consecutive devices (cuda:" +
                         std::to_string(first) + ", cuda:" + std::to_string(first + 1) + ", ...)");
  }
  if (first >= 0) {
    o->backend = "cuda";
    o->device = first;
  }
  return Status::Ok();
}

}  // namespace

Result<EngineOptions> decode_engine_config(const Message& m) {
  const api::EngineConfig& c = *m.root<api::EngineConfig>();
  EngineOptions o;
  o.model_path = str(c.model_path());
  if (o.model_path.empty()) return InvalidArgument("EngineConfig.model_path is required");
  if (c.world_size() < 1 || c.world_size() > kMaxWorldSize)
    return InvalidArgument("EngineConfig.world_size must be in [1, " +
                           std::to_string(kMaxWorldSize) + "], got " +
                           std::to_string(c.world_size()));
  o.world_size = c.world_size();
  o.store = str(c.rendezvous());
  if (c.rank() < 0 || c.rank() >= c.world_size())
    return InvalidArgument("EngineConfig.rank must be in [0, world_size), got " +
                           std::to_string(c.rank()));
  if (c.rank() != 0 && o.store.empty())
    return InvalidArgument("EngineConfig.rank > 0 needs a rendezvous (a multi-process group)");
  o.rank = c.rank();
  RINGLM_RETURN_IF_ERROR(apply_devices(c, o.store.empty() ? o.world_size : 1, &o));
  if (c.hostname() && c.hostname()->size() > 0) o.hostname = c.hostname()->str();
  if (c.kv_budget_bytes() > 0) {
    if (c.kv_budget_bytes() > uint64_t(SIZE_MAX))
      return InvalidArgument("EngineConfig.kv_budget_bytes too large");
    o.kv_budget_bytes = size_t(c.kv_budget_bytes());
  }
  if (c.kv_page_tokens() < 0 || c.kv_page_tokens() > (int64_t(1) << 20))
    return InvalidArgument("EngineConfig.kv_page_tokens must be in [0, 2^20]");
  if (c.kv_page_tokens() > 0) o.kv_page_tokens = c.kv_page_tokens();
  if (c.prefill_chunk() < 0 || c.prefill_chunk() > (int64_t(1) << 30))
    return InvalidArgument("EngineConfig.prefill_chunk must be in [0, 2^30]");
  if (c.prefill_chunk() > 0) o.prefill_chunk = c.prefill_chunk();
  if (c.share_prefix_min_tokens() < 0)
    return InvalidArgument("EngineConfig.share_prefix_min_tokens must be >= 0 (0: off)");
  o.share_prefix_min_tokens = c.share_prefix_min_tokens();
  if (c.threads_per_rank() < 0 || c.threads_per_rank() > kMaxThreadsPerRank)
    return InvalidArgument("EngineConfig.threads_per_rank must be in [0, " +
                           std::to_string(kMaxThreadsPerRank) + "]");
  o.threads_per_rank = c.threads_per_rank();
  if (c.comm_timeout_ms() < 0 || c.comm_timeout_ms() > kMaxTimeout.count())
    return InvalidArgument("EngineConfig.comm_timeout_ms must be in [0, 30 days]");
  if (c.comm_timeout_ms() > 0) o.comm_timeout = std::chrono::milliseconds(c.comm_timeout_ms());
  if (c.leader_timeout_ms() != 0 && (c.leader_timeout_ms() < kMinLeaderTimeout.count() ||
                                     c.leader_timeout_ms() > kMaxTimeout.count()))
    return InvalidArgument("EngineConfig.leader_timeout_ms must be 0 or in [" +
                           std::to_string(kMinLeaderTimeout.count()) + " ms, 30 days]");
  if (c.leader_timeout_ms() > 0)
    o.leader_timeout = std::chrono::milliseconds(c.leader_timeout_ms());
  RINGLM_ASSIGN_OR_RETURN(o.variant,
                          map_enum(c.cp_variant(), kCpVariants, "EngineConfig.cp_variant"));
  RINGLM_ASSIGN_OR_RETURN(
      o.decode_variant,
      map_enum(c.decode_variant(), kDecodeVariants, "EngineConfig.decode_variant"));
  if (!(c.attn_flops() >= 0) || !std::isfinite(c.attn_flops()))
    return InvalidArgument("EngineConfig.attn_flops must be finite and >= 0");
  if (!(c.link_bytes_per_s() >= 0) || !std::isfinite(c.link_bytes_per_s()))
    return InvalidArgument("EngineConfig.link_bytes_per_s must be finite and >= 0");
  o.attn_flops = c.attn_flops();
  o.link_bytes_per_s = c.link_bytes_per_s();
  o.chat_template = str(c.chat_template());
  RINGLM_ASSIGN_OR_RETURN(o.kv_cache_type, map_enum(c.kv_cache_type(), kKvCacheTypes,
                                                     "EngineConfig.kv_cache_type"));
  RINGLM_ASSIGN_OR_RETURN(o.weight_type, map_enum(c.weight_type(), kWeightTypes,
                                                   "EngineConfig.weight_type"));
  return o;
}

Result<SessionOptions> decode_session_config(const Message& m) {
  SessionOptions o;
  o.system_prompt = str(m.root<api::SessionConfig>()->system_prompt());
  return o;
}

Result<ChatCall> decode_chat_request(const Message& m) {
  const api::ChatRequest& r = *m.root<api::ChatRequest>();
  ChatCall call;
  if (!r.messages() || r.messages()->size() == 0)
    return InvalidArgument("ChatRequest.messages: at least one message is needed");
  call.messages.reserve(r.messages()->size());
  for (const api::Message* msg : *r.messages()) {
    RINGLM_ASSIGN_OR_RETURN(const char* role,
                            map_enum(msg->role(), kRoles, "ChatRequest.messages.role"));
    call.messages.push_back({role, str(msg->content())});
  }
  RINGLM_ASSIGN_OR_RETURN(call.opts, generate_options(r));
  return call;
}

Result<GenerateCall> decode_generate_request(const Message& m) {
  const api::GenerateRequest& r = *m.root<api::GenerateRequest>();
  GenerateCall call;
  if (!r.tokens() || r.tokens()->size() == 0)
    return InvalidArgument("GenerateRequest.tokens: at least one token is needed");
  call.tokens.assign(r.tokens()->begin(), r.tokens()->end());
  for (int32_t t : call.tokens) {
    if (t < 0)
      return InvalidArgument("GenerateRequest.tokens: negative token id " + std::to_string(t));
  }
  RINGLM_ASSIGN_OR_RETURN(call.opts, generate_options(r));
  call.opts.want_prompt_logits = r.want_prompt_logits();
  return call;
}

Result<EngineOptions> read_engine_config(const void* data, size_t len, Format format) {
  RINGLM_ASSIGN_OR_RETURN(Message m, read_message(MessageType::kEngineConfig, data, len, format));
  return decode_engine_config(m);
}

Result<SessionOptions> read_session_config(const void* data, size_t len, Format format) {
  RINGLM_ASSIGN_OR_RETURN(Message m, read_message(MessageType::kSessionConfig, data, len, format));
  return decode_session_config(m);
}

Result<ChatCall> read_chat_request(const void* data, size_t len, Format format) {
  RINGLM_ASSIGN_OR_RETURN(Message m, read_message(MessageType::kChatRequest, data, len, format));
  return decode_chat_request(m);
}

Result<GenerateCall> read_generate_request(const void* data, size_t len, Format format) {
  RINGLM_ASSIGN_OR_RETURN(Message m,
                          read_message(MessageType::kGenerateRequest, data, len, format));
  return decode_generate_request(m);
}

}  // namespace ringlm::capi
