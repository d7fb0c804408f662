// `ringlm bench cp`: CP prefill scaling and the pass-KV / pass-Q crossover.
//
//  scaling: prefill of T tokens at N = 1 and N ranks with equal threads per
//           rank; speedup, parallel efficiency, exposed communication.
//  sweep:   multi-turn requests with P + T fixed and miss rate T/(T+P) varied,
//           each ring variant forced in turn, plus what the policy picks.
//  decode:  decode tokens/s per world size and decode variant.
#include <algorithm>
#include <cstdio>
#include <random>

#include "commands.h"
#include "engine_flags.h"

namespace ringlm::cli {
namespace {

std::vector<int32_t> random_tokens(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = int32_t(100 + rng() % 30000);
  return v;
}

Result<std::unique_ptr<Engine>> engine_for(EngineOptions o, int n, CpVariant v) {
  o.world_size = n;
  o.variant = v;
  o.prefill_chunk = 1 << 20;  // one step per prefill: measure the ring, not chunking
  return Engine::Create(o);
}

// Prefill `cached` tokens (untimed), then `fresh` more; returns the second turn's stats.
Result<TurnStats> timed_prefill(Engine& e, int64_t cached, int64_t fresh, uint32_t seed) {
  RINGLM_ASSIGN_OR_RETURN(SessionId s, e.open_session());
  GenerateOptions g;
  g.max_tokens = 0;
  if (cached > 0) RINGLM_RETURN_IF_ERROR(e.generate(s, random_tokens(cached, seed), g).status());
  RINGLM_ASSIGN_OR_RETURN(TurnResult r, e.generate(s, random_tokens(fresh, seed + 1), g));
  RINGLM_RETURN_IF_ERROR(e.close_session(s));
  return r.stats;
}

Status run_scaling(const EngineOptions& base, const std::vector<double>& tokens, int n) {
  std::printf("\n== prefill scaling (threads per rank %d) ==\n", base.threads_per_rank);
  std::printf("%8s %4s %10s %10s %8s %10s %12s %12s %12s\n", "T", "N", "ms", "tok/s", "speedup",
              "efficiency", "exposed_ms", "hidden_ms", "sent_MiB");
  for (double t : tokens) {
    double t1 = 0;
    for (int world : {1, n}) {
      RINGLM_ASSIGN_OR_RETURN(auto e, engine_for(base, world, CpVariant::kPassKV));
      (void)timed_prefill(*e, 0, 64, 7);  // warm-up
      RINGLM_ASSIGN_OR_RETURN(TurnStats st, timed_prefill(*e, 0, int64_t(t), 11));
      if (world == 1) t1 = st.prefill_ms;
      const double speedup = t1 / st.prefill_ms;
      uint64_t sent = 0;  // the largest rank's ring traffic
      for (uint64_t b : st.bytes_sent) sent = std::max(sent, b);
      std::printf("%8lld %4d %10.1f %10.1f %8.2f %9.1f%% %12.1f %12.1f %12.1f\n", (long long)t,
                  world, st.prefill_ms, st.prefill_tok_s, speedup, 100.0 * speedup / world,
                  st.comm_exposed_ms, st.comm_hidden_ms, sent / double(1 << 20));
      std::fflush(stdout);
      if (n == 1) break;
    }
  }
  return Status::Ok();
}

Status run_sweep(const EngineOptions& base, const std::vector<double>& miss_rates, int64_t total,
                 int n) {
  std::printf("\n== multi-turn miss-rate sweep (P+T = %lld, N = %d) ==\n", (long long)total, n);
  std::printf("%8s %8s %8s %12s %12s %8s %8s\n", "miss", "T", "P", "pass-kv_ms", "pass-q_ms",
              "faster", "auto");
  RINGLM_ASSIGN_OR_RETURN(auto kv, engine_for(base, n, CpVariant::kPassKV));
  RINGLM_ASSIGN_OR_RETURN(auto q, engine_for(base, n, CpVariant::kPassQ));
  RINGLM_ASSIGN_OR_RETURN(auto au, engine_for(base, n, CpVariant::kAuto));
  (void)timed_prefill(*kv, 0, 64, 7);
  (void)timed_prefill(*q, 0, 64, 7);
  for (double m : miss_rates) {
    const int64_t t = std::max<int64_t>(1, int64_t(m * total));
    const int64_t p = total - t;
    RINGLM_ASSIGN_OR_RETURN(TurnStats a, timed_prefill(*kv, p, t, 21));
    RINGLM_ASSIGN_OR_RETURN(TurnStats b, timed_prefill(*q, p, t, 21));
    RINGLM_ASSIGN_OR_RETURN(TurnStats c, timed_prefill(*au, p, t, 21));
    std::printf("%8.3f %8lld %8lld %12.1f %12.1f %8s %8s\n", double(t) / total, (long long)t,
                (long long)p, a.prefill_ms, b.prefill_ms,
                a.prefill_ms <= b.prefill_ms ? "pass-kv" : "pass-q", c.variant.c_str());
    std::fflush(stdout);
  }
  return Status::Ok();
}

Status run_decode(const EngineOptions& base, int n, int64_t context, int tokens) {
  std::printf("\n== decode (context %lld, %d tokens) ==\n", (long long)context, tokens);
  std::printf("%4s %14s %10s\n", "N", "variant", "tok/s");
  std::vector<std::pair<int, DecodeVariant>> runs{{1, DecodeVariant::kAllGather}};
  if (n > 1) {
    runs.push_back({n, DecodeVariant::kAllGather});
    runs.push_back({n, DecodeVariant::kRingPassQ});
  }
  for (auto [world, dv] : runs) {
    EngineOptions o = base;
    o.decode_variant = dv;
    RINGLM_ASSIGN_OR_RETURN(auto e, engine_for(o, world, CpVariant::kAuto));
    RINGLM_ASSIGN_OR_RETURN(SessionId s, e->open_session());
    GenerateOptions g;
    g.max_tokens = tokens;
    g.sampling.temperature = 0.7f;  // never stops early on an end token's argmax
    g.sampling.seed = 3;
    RINGLM_ASSIGN_OR_RETURN(TurnResult r, e->generate(s, random_tokens(context, 5), g));
    std::printf("%4d %14s %10.2f\n", world, world == 1 ? "local" : decode_variant_name(dv),
                r.stats.decode_tok_s);
    std::fflush(stdout);
  }
  return Status::Ok();
}

}  // namespace

int run_bench(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[2]) == "model") return run_bench_model(argc, argv);
  if (argc >= 3 && std::string(argv[2]) == "ring") return run_bench_ring(argc, argv);
  if (argc >= 3 && std::string(argv[2]) == "session") return run_bench_session(argc, argv);
  if (argc < 3 || std::string(argv[2]) != "cp") {
    std::fprintf(stderr,
                 "usage: ringlm bench cp [--tokens 4096,8000] [--ranks 2] [--threads 1]\n"
                 "  [--miss-rates 0.01,...] [--total 4096] [--decode-tokens 32]\n"
                 "  [--only scaling|sweep|decode]\n"
                 "       ringlm bench model [--shape llama3-8b] [--backend cuda]\n"
                 "  [--tokens 32768,131072] [--chunk 16384] [--decode-tokens 16] [--warm 0|1]\n"
                 "       ringlm bench ring [--backend cuda] [--tokens 8192] [--ranks 2]\n"
                 "  [--heads 32] [--kv-heads 8] [--head-dim 128] [--reps 3]\n"
                 "       ringlm bench session [--model M] [--cp N] [--tokens 8192] [--reps 3]\n"
                 "  [--dir DIR]\n");
    return 2;
  }
  auto vf = engine_value_flags();
  vf.insert({"tokens", "ranks", "miss-rates", "total", "decode-tokens", "only"});
  auto args = Args::Parse(argc, argv, 3, vf, {});
  if (!args.ok()) return fail(args.status());
  auto eo = engine_options_with_model(*args);
  if (!eo.ok()) return fail(eo.status());
  if (eo->threads_per_rank == 0) eo->threads_per_rank = 1;
  auto n = args->get_int("ranks", 2);
  auto total = args->get_int("total", 4096);
  auto dec = args->get_int("decode-tokens", 32);
  for (const auto* r : {&n, &total, &dec})
    if (!r->ok()) return fail(r->status());
  if (n.value() < 2 || n.value() > kMaxWorldSize)
    return fail(InvalidArgument("--ranks: 2 to " + std::to_string(kMaxWorldSize)));
  if (total.value() < 1 || dec.value() < 0)
    return fail(InvalidArgument("--total must be positive and --decode-tokens >= 0"));
  const std::string only = args->get("only");
  if (!only.empty() && only != "scaling" && only != "sweep" && only != "decode")
    return fail(InvalidArgument("--only must be scaling, sweep or decode (got '" + only + "')"));
  auto tokens = args->get_double_list("tokens", "4096,8000");
  auto miss = args->get_double_list("miss-rates", "0.01,0.02,0.05,0.1,0.25,0.5,1");
  if (!tokens.ok()) return fail(tokens.status());
  if (!miss.ok()) return fail(miss.status());
  std::printf("ringlm bench cp: model %s, %d ranks, %d thread(s) per rank, %s KV\n",
              eo->model_path.c_str(), int(n.value()), eo->threads_per_rank,
              kernels::kv_type_name(resolve_kv_type(eo->kv_cache_type, eo->backend)));
  Status st;
  if (only.empty() || only == "scaling")
    st = run_scaling(eo.value(), tokens.value(), int(n.value()));
  if (st.ok() && (only.empty() || only == "sweep"))
    st = run_sweep(eo.value(), miss.value(), total.value(), int(n.value()));
  if (st.ok() && (only.empty() || only == "decode"))
    st = run_decode(eo.value(), int(n.value()), total.value(), int(dec.value()));
  if (!st.ok()) return fail(st);
  return 0;
}

}  // namespace ringlm::cli
