// `ringlm bench ring`: the CP ring's attention alone, pass-KV and pass-Q, on
// N in-process ranks (one backend each, GlooComm over loopback), with a query
// run's keys cut into runs of consecutive positions or not (KeyRunSplit):
// what the cutting buys where a fused library kernel (cuDNN) only takes
// contiguous positions. Random inputs in the load-balanced sharding of one
// T-token prefill (each rank's KV shard is two chunks, so most ring blocks
// hold two key runs). With --backend cuda every rank uses the same GPU, so
// the ranks' kernels share it: compare the rows with each other, not with
// one rank on a whole GPU.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>

#include "comm/gloo/gloo_comm.h"
#include "commands.h"
#include "cp/ring_attention.h"
#include "cp/sharding.h"
#include "cpu/convert.h"
#include "engine_flags.h"
#include "runtime/backend_factory.h"

namespace ringlm::cli {
namespace {

struct Shape {
  int64_t tokens = 0;
  int n = 2, hq = 32, hkv = 8, d = 128;
  kernels::KvType kv = kernels::KvType::kBF16;
  int reps = 3;
};

struct Config {
  KeyRunSplit split;
  bool pass_q;
};

const char* split_name(KeyRunSplit s) {
  return s == KeyRunSplit::kNever ? "never" : s == KeyRunSplit::kAlways ? "always" : "auto";
}

Result<Buffer> upload(Backend& b, const void* src, size_t bytes) {
  RINGLM_ASSIGN_OR_RETURN(Buffer buf, b.alloc(bytes));
  RINGLM_RETURN_IF_ERROR(b.copy_from_host(buf.data(), src, bytes));
  return buf;
}

// One rank: its inputs in backend memory, then every configuration `reps`
// times after one warm-up call; stats[c] gets the reps' RingStats.
Status run_rank(const EngineOptions& eo, const Shape& s, const ShardPlan& plan,
                const std::vector<std::vector<int32_t>>& pos_by_rank,
                const std::vector<Config>& configs, Comm& comm, std::vector<RingStats>* stats) {
  const int r = comm.rank();
  RINGLM_ASSIGN_OR_RETURN(std::unique_ptr<Backend> be, make_backend(eo, r, eo.threads_per_rank));
  const int64_t rows = plan.padded_count;
  std::mt19937 rng(1234u + uint32_t(r));
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> q(size_t(rows * s.hq * s.d)), kv(size_t(rows * s.hkv * s.d));
  for (float& x : q) x = dist(rng);
  for (float& x : kv) x = dist(rng);
  std::vector<uint16_t> kv16;
  const void* kv_host = kv.data();
  if (s.kv == kernels::KvType::kBF16) {
    kv16.resize(kv.size());
    kernels::cpu::f32_to_bf16(kv.data(), kv16.data(), int64_t(kv.size()));
    kv_host = kv16.data();
  }
  const size_t kv_bytes = kv.size() * kernels::kv_elem_bytes(s.kv);
  const std::vector<int32_t>& pos = pos_by_rank[size_t(r)];
  RINGLM_ASSIGN_OR_RETURN(Buffer qb, upload(*be, q.data(), q.size() * sizeof(float)));
  RINGLM_ASSIGN_OR_RETURN(Buffer kb, upload(*be, kv_host, kv_bytes));  // K and V alike
  RINGLM_ASSIGN_OR_RETURN(Buffer pb, upload(*be, pos.data(), pos.size() * sizeof(int32_t)));
  RINGLM_ASSIGN_OR_RETURN(Buffer out, be->alloc(q.size() * sizeof(float)));

  RingAttentionArgs a;
  a.q = qb.as<float>();
  a.q_pos = pb.as<int32_t>();
  a.tq = rows;
  a.k = kb.data();
  a.v = kb.data();
  a.k_pos = pb.as<int32_t>();
  a.tk = rows;
  a.kv = s.kv;
  a.hq = s.hq;
  a.hkv = s.hkv;
  a.d = s.d;
  a.scale = 1.f / std::sqrt(float(s.d));
  a.q_pos_by_rank = pos_by_rank;
  a.k_pos_by_rank = pos_by_rank;
  for (size_t c = 0; c < configs.size(); ++c) {
    // Reused over the repetitions as a step's layers reuse it (warm-up included).
    RingWorkspace ws;
    a.workspace = &ws;
    a.key_runs = configs[c].split;
    const auto fn = configs[c].pass_q ? &ring_pass_q : &ring_pass_kv;
    RINGLM_RETURN_IF_ERROR(fn(comm, *be, a, out.as<float>(), nullptr));  // warm-up
    RINGLM_RETURN_IF_ERROR(comm.barrier());
    for (int i = 0; i < s.reps; ++i) {
      RINGLM_RETURN_IF_ERROR(fn(comm, *be, a, out.as<float>(), &(*stats)[c]));
    }
    RINGLM_RETURN_IF_ERROR(comm.barrier());
  }
  return Status::Ok();
}

Status bench(const Args& args) {
  RINGLM_ASSIGN_OR_RETURN(EngineOptions eo, engine_options(args));
  if (eo.threads_per_rank == 0) eo.threads_per_rank = 1;
  Shape s;
  RINGLM_ASSIGN_OR_RETURN(s.tokens, args.get_int("tokens", 8192));
  RINGLM_ASSIGN_OR_RETURN(int64_t n, args.get_int("ranks", 2));
  RINGLM_ASSIGN_OR_RETURN(int64_t hq, args.get_int("heads", 32));
  RINGLM_ASSIGN_OR_RETURN(int64_t hkv, args.get_int("kv-heads", 8));
  RINGLM_ASSIGN_OR_RETURN(int64_t d, args.get_int("head-dim", 128));
  RINGLM_ASSIGN_OR_RETURN(int64_t reps, args.get_int("reps", 3));
  if (s.tokens < 1 || s.tokens > (1 << 24)) return InvalidArgument("--tokens: 1 to 2^24");
  if (n < 1 || n > 64) return InvalidArgument("--ranks: 1 to 64");
  if (hq < 1 || hkv < 1 || hq % hkv != 0 || hq > 256)
    return InvalidArgument("--heads / --kv-heads: kv-heads must divide heads (at most 256)");
  if (d < 1 || d > 256) return InvalidArgument("--head-dim: 1 to 256");
  if (reps < 1 || reps > 1000) return InvalidArgument("--reps: 1 to 1000");
  s.n = int(n), s.hq = int(hq), s.hkv = int(hkv), s.d = int(d), s.reps = int(reps);
  s.kv = resolve_kv_type(eo.kv_cache_type, eo.backend);

  RINGLM_ASSIGN_OR_RETURN(ShardPlan plan, make_shard_plan(s.tokens, 0, s.n));
  std::vector<std::vector<int32_t>> pos_by_rank;
  for (const RankShard& rs : plan.ranks) pos_by_rank.push_back(rs.positions);
  // auto is what the engine runs: always on device backends (for query runs
  // of 64+ rows), never on the CPU.
  std::vector<Config> configs;
  for (bool pass_q : {false, true}) {
    for (KeyRunSplit k : {KeyRunSplit::kNever, KeyRunSplit::kAuto, KeyRunSplit::kAlways})
      configs.push_back({k, pass_q});
  }

  std::vector<std::vector<RingStats>> stats(size_t(s.n), std::vector<RingStats>(configs.size()));
  std::vector<Status> status(size_t(s.n));
  auto store = std::make_shared<InProcessStore>();
  std::vector<std::thread> threads;
  for (int r = 0; r < s.n; ++r) {
    threads.emplace_back([&, r] {
      GlooOptions o;
      o.rank = r;
      o.size = s.n;
      o.timeout = eo.comm_timeout;
      o.store = StoreSpec::InProcess(store);
      o.key_prefix = "bench_ring";
      auto comm = GlooComm::Connect(o);
      status[size_t(r)] = comm.ok() ? run_rank(eo, s, plan, pos_by_rank, configs, *comm.value(),
                                               &stats[size_t(r)])
                                    : comm.status();
      if (!status[size_t(r)].ok() && comm.ok()) comm.value()->abort();  // fail the peers promptly
    });
  }
  for (auto& t : threads) t.join();
  for (const Status& st : status) RINGLM_RETURN_IF_ERROR(st);

  // Causal attention work of the whole prefill, spread over the ranks.
  const double flops = 4.0 * s.hq * s.d * double(s.tokens) * double(s.tokens + 1) / 2;
  std::printf(
      "ringlm bench ring: %s backend, %d ranks, %lld tokens, heads %d/%d, d %d, %s KV, %d reps\n",
      eo.backend.c_str(), s.n, (long long)s.tokens, s.hq, s.hkv, s.d,
      kernels::kv_type_name(s.kv), s.reps);
  std::printf("%-8s %-9s %13s %13s %15s %17s\n", "variant", "key_runs", "compute_ms", "exposed_ms",
              "calls/rank", "TFLOP/s/rank");
  for (size_t c = 0; c < configs.size(); ++c) {
    double compute = 0, exposed = 0, calls = 0;
    for (int r = 0; r < s.n; ++r) {  // the slowest rank sets the pace
      const RingStats& st = stats[size_t(r)][c];
      compute = std::max(compute, st.compute_ms / s.reps);
      exposed = std::max(exposed, st.comm_exposed_ms / s.reps);
      calls = std::max(calls, double(st.attention_calls) / s.reps);
    }
    std::printf("%-8s %-9s %13.2f %13.2f %15.0f %17.2f\n",
                configs[c].pass_q ? "pass-q" : "pass-kv", split_name(configs[c].split), compute,
                exposed, calls, flops / s.n / (compute / 1e3) / 1e12);
  }
  return Status::Ok();
}

}  // namespace

int run_bench_ring(int argc, char** argv) {
  auto vf = engine_value_flags();
  vf.insert({"tokens", "ranks", "heads", "kv-heads", "head-dim", "reps"});
  auto args = Args::Parse(argc, argv, 3, vf, {});
  if (!args.ok()) return fail(args.status());
  Status st = bench(args.value());
  return st.ok() ? 0 : fail(st);
}

}  // namespace ringlm::cli
