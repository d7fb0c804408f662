#include "engine_flags.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "json_writer.h"

namespace ringlm::cli {

std::set<std::string> engine_value_flags() {
  return {"model",         "cp",         "world",          "rank",       "store",
          "hostname",      "variant",    "decode-variant", "threads",    "kv-budget-mb",
          "prefill-chunk", "timeout-ms", "template",       "attn-flops", "link-bw",
          "backend",       "device",     "comm",           "kv-type",    "leader-timeout-ms",
          "weight-type",   "share-prefix-min"};
}

std::set<std::string> generate_value_flags() {
  return {"max-tokens", "temperature", "top-k", "top-p", "min-p", "repeat-penalty", "seed", "stop"};
}

std::string default_model_path() {
  if (const char* m = std::getenv("RINGLM_MODEL"); m && *m) return m;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

namespace {

Result<CpVariant> parse_variant(const std::string& v) {
  if (v.empty() || v == "auto") return CpVariant::kAuto;
  if (v == "pass-kv") return CpVariant::kPassKV;
  if (v == "pass-q") return CpVariant::kPassQ;
  return InvalidArgument("--variant must be auto, pass-kv or pass-q (got '" + v + "')");
}

Result<int64_t> env_int(const char* name, int64_t def, int64_t lo, int64_t hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) return def;
  return parse_int(v, std::string("$") + name, lo, hi);
}

// --kv-type: auto, f32 or bf16.
Result<KvCacheType> kv_cache_type(const Args& a) {
  const std::string v = a.get("kv-type", "auto");
  if (v == "auto") return KvCacheType::kAuto;
  if (v == "f32") return KvCacheType::kF32;
  if (v == "bf16") return KvCacheType::kBF16;
  return InvalidArgument("--kv-type must be auto, f32 or bf16 (got '" + v + "')");
}

// --weight-type: auto, f32, bf16 or q8_0.
Result<WeightType> weight_type(const Args& a) {
  const std::string v = a.get("weight-type", "auto");
  for (WeightType t : {WeightType::kAuto, WeightType::kF32, WeightType::kBF16, WeightType::kQ8_0})
    if (v == weight_type_name(t)) return t;
  return InvalidArgument("--weight-type must be auto, f32, bf16 or q8_0 (got '" + v + "')");
}

}  // namespace

Result<EngineOptions> engine_options(const Args& a) {
  EngineOptions o;
  o.model_path = a.get("model", default_model_path());
  RINGLM_ASSIGN_OR_RETURN(int64_t env_world, env_int("WORLD_SIZE", 1, 1, 1024));
  RINGLM_ASSIGN_OR_RETURN(int64_t cp, a.get_int("cp", env_world, 1, 1024));
  RINGLM_ASSIGN_OR_RETURN(int64_t world, a.get_int("world", cp, 1, 1024));
  RINGLM_ASSIGN_OR_RETURN(int64_t env_rank, env_int("RANK", 0, 0, 1023));
  RINGLM_ASSIGN_OR_RETURN(int64_t rank, a.get_int("rank", env_rank, 0, 1023));
  o.world_size = int(world);
  o.rank = int(rank);
  o.store = a.get("store");
  o.hostname = a.get("hostname", "127.0.0.1");
  RINGLM_ASSIGN_OR_RETURN(o.variant, parse_variant(a.get("variant")));
  const std::string dv = a.get("decode-variant", "all-gather");
  if (dv == "all-gather")
    o.decode_variant = DecodeVariant::kAllGather;
  else if (dv == "ring-pass-q")
    o.decode_variant = DecodeVariant::kRingPassQ;
  else
    return InvalidArgument("--decode-variant must be all-gather or ring-pass-q");
  RINGLM_ASSIGN_OR_RETURN(int64_t threads, a.get_int("threads", 0));
  if (threads < 0 || threads > kMaxThreadsPerRank)
    return InvalidArgument("--threads must be in [0, " + std::to_string(kMaxThreadsPerRank) +
                           "] (0: the cores / ranks)");
  o.threads_per_rank = int(threads);
  RINGLM_ASSIGN_OR_RETURN(int64_t kv_mb, a.get_int("kv-budget-mb", 4096, 1));
  o.kv_budget_bytes = size_t(kv_mb) << 20;
  RINGLM_ASSIGN_OR_RETURN(o.prefill_chunk, a.get_int("prefill-chunk", 4096, 1));
  RINGLM_ASSIGN_OR_RETURN(o.share_prefix_min_tokens,
                          a.get_int("share-prefix-min", o.share_prefix_min_tokens, 0));
  RINGLM_ASSIGN_OR_RETURN(int64_t timeout, a.get_int("timeout-ms", 60000, 1, kMaxTimeout.count()));
  o.comm_timeout = std::chrono::milliseconds(timeout);
  RINGLM_ASSIGN_OR_RETURN(int64_t leader_timeout,
                          a.get_int("leader-timeout-ms", 60000, kMinLeaderTimeout.count(),
                                    kMaxTimeout.count()));
  o.leader_timeout = std::chrono::milliseconds(leader_timeout);
  o.chat_template = a.get("template");
  o.backend = a.get("backend", "cpu");
  RINGLM_ASSIGN_OR_RETURN(int64_t device, a.get_int("device", 0, 0, 1023));
  o.device = int(device);
  // auto: shared memory between the ranks of this process, Gloo between
  // processes; gloo: Gloo (loopback TCP) in one process too; nccl: NCCL
  // between GPU ranks (the control plane as with auto).
  const std::string comm = a.get("comm", "auto");
  if (comm != "auto" && comm != "gloo" && comm != "nccl")
    return InvalidArgument("--comm must be auto, gloo or nccl (got '" + comm + "')");
  o.nccl = comm == "nccl";
  o.in_process_gloo = comm == "gloo";
  RINGLM_ASSIGN_OR_RETURN(o.kv_cache_type, kv_cache_type(a));
  RINGLM_ASSIGN_OR_RETURN(o.weight_type, weight_type(a));
  RINGLM_ASSIGN_OR_RETURN(o.attn_flops, a.get_double("attn-flops", 0));
  RINGLM_ASSIGN_OR_RETURN(o.link_bytes_per_s, a.get_double("link-bw", 0));
  return o;
}

Result<EngineOptions> engine_options_with_model(const Args& a) {
  RINGLM_ASSIGN_OR_RETURN(EngineOptions o, engine_options(a));
  const char* env = std::getenv("RINGLM_MODEL");
  if (!a.has("model") && !(env && *env) && !std::ifstream(o.model_path).good()) {
    return NotFound("no model at " + o.model_path +
                    ": fetch the default model with scripts/fetch_model.sh, or pass --model");
  }
  return o;
}

Result<GenerateOptions> generate_options(const Args& a) {
  GenerateOptions g;
  RINGLM_ASSIGN_OR_RETURN(int64_t max_tokens, a.get_int("max-tokens", 256));
  g.max_tokens = int(max_tokens);
  RINGLM_ASSIGN_OR_RETURN(double t, a.get_double("temperature", 0));
  g.sampling.temperature = float(t);
  RINGLM_ASSIGN_OR_RETURN(int64_t k, a.get_int("top-k", 0));
  g.sampling.top_k = int(k);
  RINGLM_ASSIGN_OR_RETURN(double p, a.get_double("top-p", 1));
  g.sampling.top_p = float(p);
  RINGLM_ASSIGN_OR_RETURN(double mp, a.get_double("min-p", 0));
  g.sampling.min_p = float(mp);
  RINGLM_ASSIGN_OR_RETURN(double rp, a.get_double("repeat-penalty", 1));
  g.sampling.repetition_penalty = float(rp);
  RINGLM_ASSIGN_OR_RETURN(int64_t seed, a.get_int("seed", 0, 0, INT64_MAX));
  g.sampling.seed = uint64_t(seed);
  g.stop = a.all("stop");
  RINGLM_ASSIGN_OR_RETURN(g.variant, parse_variant(a.get("variant")));
  return g;
}

std::string stats_json(const TurnStats& s) {
  JsonObject o;
  o.integer("world_size", s.world_size)
      .str("variant", s.variant)
      .str("decode_variant", s.decode_variant)
      .integer("new_tokens", s.new_tokens)
      .integer("cached_tokens", s.cached_tokens)
      .integer("generated_tokens", s.generated_tokens)
      .num("prefill_ms", s.prefill_ms)
      .num("decode_ms", s.decode_ms)
      .num("prefill_tok_s", s.prefill_tok_s)
      .num("decode_tok_s", s.decode_tok_s)
      .num("comm_hidden_ms", s.comm_hidden_ms)
      .num("comm_exposed_ms", s.comm_exposed_ms)
      .raw("bytes_sent", json_array(s.bytes_sent))
      .raw("kv_tokens", json_array(s.kv_tokens))
      .raw("kv_bytes", json_array(s.kv_bytes))
      .integer("evictions", s.evictions)
      .boolean("rebuilt", s.rebuilt)
      .integer("shared_tokens", s.shared_tokens);
  return o.str();
}

std::string stats_line(const TurnStats& s) {
  char buf[512];
  std::snprintf(
      buf, sizeof(buf),
      "[prefill %lld tok (cached %lld) %.1f tok/s | decode %lld tok %.1f tok/s | cp %d %s]",
      (long long)s.new_tokens, (long long)s.cached_tokens, s.prefill_tok_s,
      (long long)s.generated_tokens, s.decode_tok_s, s.world_size, s.variant.c_str());
  return buf;
}

int fail(const Status& st) {
  std::fprintf(stderr, "error: %s\n", st.ToString().c_str());
  return 1;
}

}  // namespace ringlm::cli
