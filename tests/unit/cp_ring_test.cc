// Ring pass-KV, ring pass-Q and CP decode on N rank threads (GlooComm over
// loopback, in-process store; CpuBackend with one thread each), compared with
// the float64 reference attention over the whole, gathered sequence.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "comm/gloo/gloo_comm.h"
#include "comm/self_comm.h"
#if RINGLM_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif
#include "cp/ring_attention.h"
#include "cp/sharding.h"
#include "device_flag_comm.h"
#include "forwarding_backend.h"
#include "position_hints.h"
#include "reference_attention.h"
#include "test_util.h"

using namespace ringlm;

namespace {

// ---------------------------------------------------------------------------
// Where the ranks compute:
//  kCpu        CpuBackend (threads = 1).
//  kCpuStaged  CpuBackend that reports host_memory() == false, so the ring
//              stages its messages through host copies (the path of a GPU
//              backend with GlooComm); the memory is still host memory, so
//              this checks the staged path's copies, not their placement.
//  kCuda       CudaBackend on device 0 for every rank (staged through host
//              memory by GlooComm); only where a GPU is present.
//  kCpuDeviceComm  CpuBackend that reports host_memory() == false and a
//              GlooComm that reports device_memory() == true
//              (test::DeviceFlagComm): the path of a GPU backend with NCCL
//              (no staging, no host synchronisation per step, steps timed by
//              backend marks, transfers waited on the device), on host memory.
//  kCudaDeviceComm  CudaBackend with that device-Comm path, the flagged
//              GlooComm copying through host memory; only where a GPU is
//              present (one GPU holds no NCCL ring of several ranks).
enum class Where { kCpu, kCpuStaged, kCuda, kCpuDeviceComm, kCudaDeviceComm };

bool device_comm(Where w) { return w == Where::kCpuDeviceComm || w == Where::kCudaDeviceComm; }

// A Backend that forwards to another and counts attention calls and the
// (query, key) pairs they cover.
class CountingBackend final : public test::ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;

  int calls = 0;
  int64_t pairs = 0;
  int scattered_key_calls = 0;    // calls whose keys are not consecutive positions (host backends)
  test::PositionHintCheck hints;  // the calls' host copies of their positions
  int to_host_copies = 0;         // copy_to_host calls (reads from backend memory)
  int syncs = 0;                  // synchronize calls
  int marks = 0;                  // mark calls
  int allocs = 0;                 // alloc calls

  Backend& wrapped() { return inner(); }

  Result<Buffer> alloc(size_t bytes) override {
    ++allocs;
    return ForwardingBackend::alloc(bytes);
  }
  Status synchronize() override {
    ++syncs;
    return ForwardingBackend::synchronize();
  }
  Result<int> mark() override {
    ++marks;
    return ForwardingBackend::mark();
  }
  Status copy_to_host(void* d, const void* src, size_t n) override {
    ++to_host_copies;
    return ForwardingBackend::copy_to_host(d, src, n);
  }

  std::string_view name() const override { return "counting"; }
  Status attention_partial(const kernels::AttentionParams& p) override {
    ++calls;
    pairs += p.tq * p.tk;
    hints.check(p, inner().host_memory());
    if (inner().host_memory()) {
      for (int64_t j = 0; j < p.tk; ++j) {
        if (p.k_pos[j] < 0 || (j > 0 && p.k_pos[j] != p.k_pos[j - 1] + 1)) {
          ++scattered_key_calls;
          break;
        }
      }
    }
    return inner().attention_partial(p);
  }
};

bool have_cuda() {
#if RINGLM_HAVE_CUDA
  return cuda_device_count() > 0;
#else
  return false;
#endif
}

Result<std::unique_ptr<CountingBackend>> make_backend(Where where) {
  switch (where) {
    case Where::kCpu:
      return std::make_unique<CountingBackend>(make_cpu_backend({1}), true);
    case Where::kCpuStaged:
    case Where::kCpuDeviceComm:
      return std::make_unique<CountingBackend>(make_cpu_backend({1}), false);
    case Where::kCuda:
    case Where::kCudaDeviceComm: {
#if RINGLM_HAVE_CUDA
      RINGLM_ASSIGN_OR_RETURN(std::unique_ptr<Backend> cuda, make_cuda_backend(0));
      const bool host = cuda->host_memory();
      return std::make_unique<CountingBackend>(std::move(cuda), host);
#else
      return Unavailable("built without CUDA");
#endif
    }
  }
  return Internal("unknown backend kind");
}

// Runs fn(comm, backend) on n rank threads, each with its own GlooComm (one
// in-process store per group) and CountingBackend. Returns each rank's status.
// Every rank keeps its Comm until all ranks are done: a rank that closes its
// connections while a peer still waits on a transfer fails that peer.
std::vector<Status> run_ranks(int n, Where where,
                              const std::function<Status(Comm&, CountingBackend&)>& fn) {
  static std::atomic<int> group_id{0};
  auto store = std::make_shared<InProcessStore>();
  const std::string prefix = "cp_ring_test_" + std::to_string(group_id++);
  std::vector<Status> result(n);
  std::barrier done(n);
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      GlooOptions o;
      o.rank = r;
      o.size = n;
      o.timeout = std::chrono::seconds(30);
      o.connect_timeout = std::chrono::seconds(30);
      o.store = StoreSpec::InProcess(store);
      o.key_prefix = prefix;
      auto comm = GlooComm::Connect(o);
      auto backend = make_backend(where);
      if (!comm.ok()) {
        result[r] = comm.status();
      } else if (!backend.ok()) {
        result[r] = backend.status();
      } else if (device_comm(where)) {
        Backend* stage = where == Where::kCudaDeviceComm ? &backend.value()->wrapped() : nullptr;
        test::DeviceFlagComm device(std::move(comm).value(), stage);
        result[r] = fn(device, *backend.value());
      } else {
        result[r] = fn(*comm.value(), *backend.value());
      }
      done.arrive_and_wait();
    });
  }
  for (auto& t : threads) t.join();
  return result;
}

// ---------------------------------------------------------------------------
// A session as the engine lays it out: earlier turns sharded by the
// load-balanced plan (their KV stayed on the rank that computed it), decode
// tokens appended round-robin, then the current turn.
struct RankInput {
  std::vector<float> q;        // [tq, hq, d]
  std::vector<int32_t> q_pos;  // [tq]
  std::vector<float> k, v;     // [tk, hkv, d]
  std::vector<int32_t> k_pos;  // [tk]
};

struct Scenario {
  int n = 1, hq = 4, hkv = 2, d = 16;
  kernels::KvType kv = kernels::KvType::kF32;  // how the ranks hold K/V (bf16: a bf16 KV cache)
  int64_t p = 0;                               // cached tokens before the queries
  int64_t t = 0;                               // query tokens (a prefill turn, or decode rows)
  int64_t tq = 0, tk = 0;
  std::vector<float> q_all;  // [t, hq, d]: query of position p + i
  std::vector<float> k_all;  // [p + t, hkv, d]: key of each global position
  std::vector<float> v_all;
  std::vector<RankInput> ranks;
  std::vector<double> ref_out;  // [t, hq, d]
};

void append_kv(const Scenario& s, RankInput& r, int32_t pos) {
  const size_t row = static_cast<size_t>(s.hkv) * s.d;
  r.k.insert(r.k.end(), s.k_all.begin() + pos * row, s.k_all.begin() + (pos + 1) * row);
  r.v.insert(r.v.end(), s.v_all.begin() + pos * row, s.v_all.begin() + (pos + 1) * row);
  r.k_pos.push_back(pos);
}

// prior: lengths of earlier turns, each followed by `decode_between` decode
// tokens. decode == false: the queries are a prefill turn of t tokens sharded
// over the ranks. decode == true: t decode rows at positions p .. p+t-1,
// appended round-robin, with the same queries on every rank.
// kv = kBF16: K and V are drawn bf16-exact, so the f64 reference over them
// is also the reference of attention over a bf16 KV cache.
Scenario make_scenario(int n, const std::vector<int64_t>& prior, int decode_between, int64_t t,
                       bool decode, uint32_t seed, int extra_kv_padding = 2,
                       kernels::KvType kv = kernels::KvType::kF32) {
  Scenario s;
  s.n = n;
  s.t = t;
  s.kv = kv;
  for (int64_t len : prior) s.p += len + decode_between;
  const int64_t total = s.p + t;
  s.q_all = test::random_floats(t * s.hq * s.d, seed);
  s.k_all = test::random_floats(total * s.hkv * s.d, seed + 1);
  s.v_all = test::random_floats(total * s.hkv * s.d, seed + 2);
  if (kv == kernels::KvType::kBF16) {
    for (auto* a : {&s.k_all, &s.v_all})
      for (float& x : *a) x = test::kv_stored(x, kv);
  }
  s.ranks.resize(n);

  std::vector<int64_t> loads(n, 0);
  int64_t pos = 0;
  uint64_t decode_step = 0;
  auto add = [&](int r, int64_t position) {
    append_kv(s, s.ranks[r], static_cast<int32_t>(position));
    ++loads[r];
  };
  for (int64_t len : prior) {
    auto plan = make_shard_plan(len, pos, n, loads);
    REQUIRE(plan.ok());
    for (int r = 0; r < n; ++r) {
      for (int64_t i = 0; i < plan->ranks[r].local_count(); ++i)
        add(r, plan->ranks[r].positions[i]);
    }
    pos += len;
    for (int i = 0; i < decode_between; ++i) add(decode_owner(decode_step++, n), pos++);
  }
  REQUIRE(pos == s.p);

  const size_t q_row = static_cast<size_t>(s.hq) * s.d;
  if (!decode) {
    auto plan = make_shard_plan(t, s.p, n, loads);
    REQUIRE(plan.ok());
    s.tq = plan->padded_count;
    for (int r = 0; r < n; ++r) {
      RankInput& ri = s.ranks[r];
      ri.q_pos = plan->ranks[r].positions;
      ri.q.resize(s.tq * q_row);
      scatter_rows(*plan, r, s.q_all.data(), q_row * sizeof(float), ri.q.data());
      for (int64_t i = 0; i < plan->ranks[r].local_count(); ++i)
        add(r, plan->ranks[r].positions[i]);
    }
  } else {
    s.tq = t;
    for (int64_t i = 0; i < t; ++i) add(decode_owner(decode_step++, n), s.p + i);
    for (RankInput& ri : s.ranks) {
      ri.q = s.q_all;
      for (int64_t i = 0; i < t; ++i) ri.q_pos.push_back(static_cast<int32_t>(s.p + i));
    }
  }

  // Equal KV block size on every rank, padded with position -1.
  for (const RankInput& ri : s.ranks) s.tk = std::max<int64_t>(s.tk, ri.k_pos.size());
  s.tk += extra_kv_padding;
  const size_t kv_row = static_cast<size_t>(s.hkv) * s.d;
  for (RankInput& ri : s.ranks) {
    ri.k.resize(s.tk * kv_row, 0.f);
    ri.v.resize(s.tk * kv_row, 0.f);
    ri.k_pos.resize(s.tk, -1);
  }

  // Reference: all queries against the whole sequence, causal, in double.
  std::vector<int32_t> q_pos(t), k_pos(total);
  for (int64_t i = 0; i < t; ++i) q_pos[i] = static_cast<int32_t>(s.p + i);
  for (int64_t j = 0; j < total; ++j) k_pos[j] = static_cast<int32_t>(j);
  kernels::AttentionParams ap;
  ap.q = s.q_all.data();
  ap.q_pos = q_pos.data();
  ap.k = s.k_all.data();
  ap.v = s.v_all.data();
  ap.k_pos = k_pos.data();
  ap.tq = t;
  ap.tk = total;
  ap.hq = s.hq;
  ap.hkv = s.hkv;
  ap.d = s.d;
  ap.scale = 1.f / std::sqrt(static_cast<float>(s.d));
  std::vector<double> ref_lse;
  test::reference_attention(ap, s.ref_out, ref_lse);
  return s;
}

RingAttentionArgs args_of(const Scenario& s, const RankInput& r) {
  RingAttentionArgs a;
  a.q = r.q.data();
  a.q_pos = r.q_pos.data();
  a.tq = s.tq;
  a.k = r.k.data();
  a.v = r.v.data();
  a.k_pos = r.k_pos.data();
  a.tk = s.tk;
  a.hq = s.hq;
  a.hkv = s.hkv;
  a.d = s.d;
  a.scale = 1.f / std::sqrt(static_cast<float>(s.d));
  a.kv = s.kv;
  return a;
}

// Every real row of every rank equals the reference within 1e-5 relative (to
// the row's largest magnitude); padding rows are 0.
void check_against_reference(const Scenario& s, const std::vector<std::vector<float>>& out) {
  const size_t q_row = static_cast<size_t>(s.hq) * s.d;
  double worst = 0;
  for (int r = 0; r < s.n; ++r) {
    REQUIRE(out[r].size() == s.tq * q_row);
    for (int64_t i = 0; i < s.tq; ++i) {
      const int32_t pos = s.ranks[r].q_pos[i];
      const float* got = out[r].data() + i * q_row;
      if (pos < 0) {
        for (size_t c = 0; c < q_row; ++c) REQUIRE(got[c] == 0.f);
        continue;
      }
      const double* want = s.ref_out.data() + (pos - s.p) * q_row;
      for (int h = 0; h < s.hq; ++h) {
        double scale = 1e-3;
        for (int c = 0; c < s.d; ++c) scale = std::max(scale, std::abs(want[h * s.d + c]));
        for (int c = 0; c < s.d; ++c) {
          const double err = std::abs(got[h * s.d + c] - want[h * s.d + c]) / scale;
          worst = std::max(worst, err);
        }
      }
    }
  }
  CAPTURE(worst);
  REQUIRE(worst <= 1e-5);
}

using RingFn = Status (*)(Comm&, Backend&, const RingAttentionArgs&, float*, RingStats*);

struct RankResult {
  std::vector<float> out;
  RingStats stats;
  uint64_t comm_bytes = 0;  // Comm::bytes_sent() delta
  int calls = 0;
  int64_t pairs = 0;
  int scattered_key_calls = 0;
  test::PositionHintCheck hints;
  int to_host_copies = 0;
  int syncs = 0;  // during the attention calls
  int marks = 0;
  // Device Comms: how the ring waited for its transfers (test::DeviceFlagComm).
  int device_waits = 0, host_only_waits = 0, outstanding = 0, max_outstanding = 0;
};

template <typename T>
Result<Buffer> upload(Backend& b, const std::vector<T>& v) {
  RINGLM_ASSIGN_OR_RETURN(Buffer buf, b.alloc(v.size() * sizeof(T)));
  RINGLM_RETURN_IF_ERROR(b.copy_from_host(buf.data(), v.data(), v.size() * sizeof(T)));
  return buf;
}

// Runs `layers` calls of the attention (same inputs) on every rank, with the
// inputs and the output in the backend's memory.
std::vector<RankResult> run_attention(
    const Scenario& s, Where where, int layers,
    const std::function<Status(Comm&, Backend&, const RingAttentionArgs&, float*, RingStats*)>&
        attn) {
  std::vector<RankResult> res(s.n);
  auto st = run_ranks(s.n, where, [&](Comm& comm, CountingBackend& backend) -> Status {
    RankResult& rr = res[comm.rank()];
    const RankInput& in = s.ranks[comm.rank()];
    RINGLM_ASSIGN_OR_RETURN(Buffer q, upload(backend, in.q));
    RINGLM_ASSIGN_OR_RETURN(Buffer q_pos, upload(backend, in.q_pos));
    const bool bf16 = s.kv == kernels::KvType::kBF16;
    RINGLM_ASSIGN_OR_RETURN(Buffer k,
                            bf16 ? upload(backend, test::to_bf16(in.k)) : upload(backend, in.k));
    RINGLM_ASSIGN_OR_RETURN(Buffer v,
                            bf16 ? upload(backend, test::to_bf16(in.v)) : upload(backend, in.v));
    RINGLM_ASSIGN_OR_RETURN(Buffer k_pos, upload(backend, in.k_pos));
    const int64_t out_n = s.tq * s.hq * s.d;
    RINGLM_ASSIGN_OR_RETURN(Buffer out, backend.alloc(out_n * sizeof(float)));
    RingAttentionArgs a = args_of(s, in);
    a.q = q.as<float>();
    a.q_pos = q_pos.as<int32_t>();
    a.k = k.data();
    a.v = v.data();
    a.k_pos = k_pos.as<int32_t>();
    const uint64_t before = comm.bytes_sent();
    const int copies_before = backend.to_host_copies, syncs_before = backend.syncs;
    for (int l = 0; l < layers; ++l) {
      RINGLM_RETURN_IF_ERROR(backend.fill(out.as<float>(), -99.f, out_n));
      RINGLM_RETURN_IF_ERROR(attn(comm, backend, a, out.as<float>(), &rr.stats));
    }
    const int copies_after = backend.to_host_copies;
    rr.syncs = backend.syncs - syncs_before;
    rr.marks = backend.marks;
    rr.out.resize(out_n);
    RINGLM_RETURN_IF_ERROR(backend.copy_to_host(rr.out.data(), out.data(), out_n * sizeof(float)));
    rr.comm_bytes = comm.bytes_sent() - before;
    rr.calls = backend.calls;
    rr.pairs = backend.pairs;
    rr.scattered_key_calls = backend.scattered_key_calls;
    rr.hints = backend.hints;
    rr.to_host_copies = copies_after - copies_before;
    if (const auto* flag = dynamic_cast<const test::DeviceFlagComm*>(&comm)) {
      rr.device_waits = flag->device_waits;
      rr.host_only_waits = flag->host_only_waits;
      rr.outstanding = flag->outstanding;
      rr.max_outstanding = flag->max_outstanding;
    }
    return Status::Ok();
  });
  for (int r = 0; r < s.n; ++r) {
    INFO("rank " << r << ": " << st[r].ToString());
    REQUIRE(st[r].ok());
  }
  return res;
}

// Algorithm `kind`: 0 ring pass-KV, 1 ring pass-Q, 2 CP decode all-gather,
// 3 CP decode ring pass-Q.
Status run_algorithm(int kind, Comm& c, Backend& b, const RingAttentionArgs& a, float* out,
                     RingStats* st) {
  switch (kind) {
    case 0:
      return ring_pass_kv(c, b, a, out, st);
    case 1:
      return ring_pass_q(c, b, a, out, st);
    case 2:
      return cp_decode_attention(c, b, a, out, st, DecodeVariant::kAllGather);
    default:
      return cp_decode_attention(c, b, a, out, st, DecodeVariant::kRingPassQ);
  }
}

// What a prefill or decode step does: reserve a workspace for the step's
// shapes (before its ranks agree to run it), then run every layer (3) from
// it. REQUIREs that the layers allocate nothing.
std::vector<RankResult> run_reserved(const Scenario& s, Where where, int algo, KeyRunSplit split) {
  struct PerRank {
    RingWorkspace ws;
    int reserved_allocs = -1;  // the workspace's, after reserve
    int layer_allocs = 0;      // the backend's, during the layers
  };
  std::vector<PerRank> ranks(s.n);
  auto res = run_attention(
      s, where, 3,
      [&](Comm& c, Backend& b, const RingAttentionArgs& a, float* out, RingStats* st) -> Status {
        PerRank& me = ranks[c.rank()];
        auto& counting = static_cast<CountingBackend&>(b);
        RingAttentionArgs x = a;
        x.key_runs = split;
        x.workspace = &me.ws;
        if (me.reserved_allocs < 0) {
          if (algo == 0) RINGLM_RETURN_IF_ERROR(reserve_ring_pass_kv(c, b, x));
          if (algo == 1) RINGLM_RETURN_IF_ERROR(reserve_ring_pass_q(c, b, x));
          if (algo >= 2) {
            const DecodeVariant v = algo == 2 ? DecodeVariant::kAllGather : DecodeVariant::kRingPassQ;
            RINGLM_RETURN_IF_ERROR(reserve_cp_decode(c, b, x, v, false));
          }
          me.reserved_allocs = me.ws.allocations();
        }
        const int before = counting.allocs;
        RINGLM_RETURN_IF_ERROR(run_algorithm(algo, c, b, x, out, st));
        me.layer_allocs += counting.allocs - before;
        return Status::Ok();
      });
  for (int r = 0; r < s.n; ++r) {
    CAPTURE(r);
    REQUIRE(ranks[r].reserved_allocs > 0);
    REQUIRE(ranks[r].ws.allocations() == ranks[r].reserved_allocs);
    REQUIRE(ranks[r].layer_allocs == 0);
  }
  return res;
}

// Every attention call carried host copies of its positions, equal to them.
void require_position_hints(const std::vector<RankResult>& res) {
  for (const RankResult& r : res) {
    REQUIRE(r.hints.unhinted == 0);
    REQUIRE(r.hints.wrong == 0);
  }
}

std::vector<std::vector<float>> outputs(const std::vector<RankResult>& res) {
  std::vector<std::vector<float>> o;
  for (const auto& r : res) o.push_back(r.out);
  return o;
}

// Calls and covered pairs the documented skipping rule gives for queries
// `q_pos` against one KV block `k_pos`: one call per run of consecutive
// positions with a visible key, over the span first..last visible key.
void expected_block_work(const std::vector<int32_t>& q_pos, const std::vector<int32_t>& k_pos,
                         int* calls, int64_t* pairs) {
  std::vector<std::pair<size_t, size_t>> runs;  // [begin, end)
  for (size_t i = 0; i < q_pos.size(); ++i) {
    if (q_pos[i] < 0) continue;
    if (!runs.empty() && runs.back().second == i && q_pos[i] == q_pos[i - 1] + 1) {
      runs.back().second = i + 1;
    } else {
      runs.push_back({i, i + 1});
    }
  }
  for (auto [b, e] : runs) {
    const int32_t max_pos = q_pos[e - 1];
    int64_t first = -1, last = -1;
    for (size_t j = 0; j < k_pos.size(); ++j) {
      if (k_pos[j] >= 0 && k_pos[j] <= max_pos) {
        if (first < 0) first = j;
        last = j;
      }
    }
    if (first < 0) continue;
    ++*calls;
    *pairs += static_cast<int64_t>(e - b) * (last - first + 1);
  }
}

struct History {
  std::vector<int64_t> prior;
  int decode_between;
};

const History kHistories[] = {
    {{}, 0},       // first turn: P = 0
    {{23, 5}, 3},  // two earlier turns, 3 decode tokens after each: P = 34
    {{1, 70}, 1},  // a one-token turn, then a longer one: P = 73
};

}  // namespace

TEST_CASE("ring prefill equals the f64 reference", "[cp][ring]") {
  const int n = GENERATE(1, 2, 3, 4);
  const bool pass_q = GENERATE(false, true);
  const int hist = GENERATE(0, 1, 2);
  const int64_t t = GENERATE_COPY(values<int64_t>({1, 2 * n - 1, 2 * n + 1, 37}));
  const Where where = GENERATE(Where::kCpu, Where::kCpuStaged, Where::kCpuDeviceComm);
  if (where != Where::kCpu && hist == 1) return;  // staging: a subset of the grid suffices
  CAPTURE(n, pass_q, hist, t, where);

  const Scenario s = make_scenario(n, kHistories[hist].prior, kHistories[hist].decode_between, t,
                                   false, 1000u + n * 17 + hist * 5 + t);
  const RingFn fn = pass_q ? &ring_pass_q : &ring_pass_kv;
  const int layers = 2;
  const auto res = run_attention(s, where, layers, fn);
  check_against_reference(s, outputs(res));
  require_position_hints(res);

  // Host synchronisation: every step on host and staged Comms; on a device
  // Comm none per step (one per call to read the marks, one more for pass-Q's
  // final merge), the steps timed by two marks each.
  for (int r = 0; r < n; ++r) {
    CAPTURE(r, res[r].syncs, res[r].marks);
    if (where == Where::kCpuDeviceComm) {
      REQUIRE(res[r].marks == 2 * n * layers);
      REQUIRE(res[r].syncs <= 2 * layers);
      // Transfers: the compute waits for them on the device, and the host
      // for every one before the call returns (none left outstanding). Here
      // the ring reads positions out of the blocks, so the host also waits
      // for each block it reads (see the host-positions case for the rest).
      REQUIRE(res[r].device_waits == (n - 1) * layers);
      REQUIRE(res[r].host_only_waits == 0);
      REQUIRE(res[r].outstanding == 0);
      REQUIRE(res[r].max_outstanding <= std::max(0, n - 2));
    } else {
      REQUIRE(res[r].marks == 0);
      REQUIRE(res[r].syncs >= n * layers);
    }
  }

  // Message sizes: pass-KV sends (N-1) KV blocks, pass-Q (N-1) Q blocks and
  // (N-1) partial blocks through the all_to_all, per layer.
  const uint64_t kv_msg = s.tk * (2ull * s.hkv * s.d * 4 + 4);
  const uint64_t q_msg = s.tq * (uint64_t(s.hq) * s.d * 4 + 4);
  const uint64_t part_msg = s.tq * uint64_t(s.hq) * (s.d + 1) * 4;
  const uint64_t per_layer = (n - 1) * (pass_q ? q_msg + part_msg : kv_msg);
  for (int r = 0; r < n; ++r) {
    CAPTURE(r);
    REQUIRE(res[r].stats.bytes_sent == layers * per_layer);
    REQUIRE(res[r].comm_bytes == layers * per_layer);  // what the Comm actually sent
    REQUIRE(res[r].stats.steps == layers * n);
    REQUIRE(res[r].stats.attention_calls == res[r].calls);
    REQUIRE(res[r].stats.compute_ms >= 0);
    REQUIRE(res[r].stats.comm_exposed_ms >= 0);
    REQUIRE(res[r].stats.comm_total_ms >= 0);
  }

  // The kernel calls and the (query, key) pairs they covered follow the
  // skipping rule exactly: nothing is computed for fully masked blocks.
  int total_calls = 0;
  for (int r = 0; r < n; ++r) {
    int calls = 0;
    int64_t pairs = 0;
    for (int b = 0; b < n; ++b) {
      // pass-KV: rank r's queries against every rank's KV; pass-Q: every
      // rank's queries against rank r's KV.
      const auto& q_pos = pass_q ? s.ranks[b].q_pos : s.ranks[r].q_pos;
      const auto& k_pos = pass_q ? s.ranks[r].k_pos : s.ranks[b].k_pos;
      expected_block_work(q_pos, k_pos, &calls, &pairs);
    }
    CAPTURE(r);
    REQUIRE(res[r].calls == layers * calls);
    REQUIRE(res[r].pairs == layers * pairs);
    total_calls += res[r].calls;
  }
  if (t == 1 && hist == 0 && n > 1) {
    // One token: its own KV block is the only one with a key; every other
    // (query block, KV block) pair is padding and costs nothing.
    REQUIRE(total_calls == layers);
  }
}

TEST_CASE("ring prefill and CP decode over a bf16 KV cache", "[cp][ring]") {
  // K/V travel as bf16 (half the pass-KV message); the results equal the f64
  // reference over the same bf16 values at the f32 tolerance.
  const int n = GENERATE(1, 2, 3, 4);
  const int algo = GENERATE(0, 1, 2, 3);  // pass-KV, pass-Q, decode all-gather, decode ring pass-Q
  const Where where = GENERATE(Where::kCpu, Where::kCpuStaged, Where::kCpuDeviceComm);
  const bool decode = algo >= 2;
  const int64_t t = decode ? 3 : 37;
  CAPTURE(n, algo, where);
  const Scenario s = make_scenario(n, kHistories[1].prior, kHistories[1].decode_between, t, decode,
                                   7000u + n * 13 + algo, 2, kernels::KvType::kBF16);
  const int layers = 2;
  const auto res =
      run_attention(s, where, layers,
                    [algo](Comm& c, Backend& b, const RingAttentionArgs& a, float* out,
                           RingStats* st) { return run_algorithm(algo, c, b, a, out, st); });
  check_against_reference(s, outputs(res));
  require_position_hints(res);
  if (algo == 0) {
    const uint64_t kv_msg = s.tk * (2ull * s.hkv * s.d * 2 + 4);  // bf16 K and V
    for (int r = 0; r < n; ++r) REQUIRE(res[r].comm_bytes == layers * (n - 1) * kv_msg);
  }
}

TEST_CASE("with every rank's positions on the host the ring reads none back", "[cp][ring]") {
  // What a prefill step gives the ring (RankExecutor::ring_positions): each
  // step is planned from the host copies, so no position leaves backend
  // memory (a host sync per step on a device Comm).
  const int n = GENERATE(2, 3, 4);
  const bool pass_q = GENERATE(false, true);
  const Where where = GENERATE(Where::kCpu, Where::kCpuStaged, Where::kCpuDeviceComm);
  CAPTURE(n, pass_q, where);
  const Scenario s = make_scenario(n, kHistories[2].prior, kHistories[2].decode_between, 37, false,
                                   9100u + n * 7 + pass_q);
  std::vector<std::vector<int32_t>> q_by_rank, k_by_rank;
  for (const RankInput& r : s.ranks) {
    q_by_rank.push_back(r.q_pos);
    k_by_rank.push_back(r.k_pos);
  }
  const RingFn fn = pass_q ? &ring_pass_q : &ring_pass_kv;
  const auto res = run_attention(
      s, where, 2, [&](Comm& c, Backend& b, const RingAttentionArgs& a, float* out, RingStats* st) {
        RingAttentionArgs x = a;
        x.q_pos_by_rank = q_by_rank;
        x.k_pos_by_rank = k_by_rank;
        return fn(c, b, x, out, st);
      });
  check_against_reference(s, outputs(res));
  require_position_hints(res);
  if (where == Where::kCpuDeviceComm) {
    // Planned from host copies, the host waits for no transfer until the
    // last step is queued: the last exchange starts with every earlier one
    // waited for on the device only.
    for (int r = 0; r < n; ++r) {
      CAPTURE(r);
      REQUIRE(res[r].device_waits == (n - 1) * 2);
      REQUIRE(res[r].host_only_waits == 0);
      REQUIRE(res[r].outstanding == 0);
      REQUIRE(res[r].max_outstanding == n - 2);
    }
  }
  if (where != Where::kCpuStaged) {
    // Not staged: copy_to_host only ever reads positions back, which the
    // same ring without the host copies does.
    const auto without = run_attention(s, where, 2, fn);
    for (int r = 0; r < n; ++r) {
      CAPTURE(r);
      REQUIRE(res[r].to_host_copies == 0);
      REQUIRE(without[r].to_host_copies > 0);
      REQUIRE(res[r].out == without[r].out);
    }
  }
}

TEST_CASE("key runs cut into contiguous calls give the same results", "[cp][ring]") {
  // KeyRunSplit::kAlways on the CPU exercises what device backends do by
  // default (for query runs of >= 64 rows): every call then sees consecutive
  // key positions, merged by LSE, so fused library attention can serve it.
  const int n = GENERATE(1, 2, 3, 4);
  const bool pass_q = GENERATE(false, true);
  const int hist = GENERATE(0, 1, 2);
  const int64_t t = GENERATE_COPY(values<int64_t>({2 * n + 1, 37, 150}));
  CAPTURE(n, pass_q, hist, t);
  const Scenario s = make_scenario(n, kHistories[hist].prior, kHistories[hist].decode_between, t,
                                   false, 5000u + n * 17 + hist * 5 + t);
  const RingFn fn = pass_q ? &ring_pass_q : &ring_pass_kv;
  auto split = [fn](Comm& c, Backend& b, const RingAttentionArgs& a, float* out, RingStats* st) {
    RingAttentionArgs x = a;
    x.key_runs = KeyRunSplit::kAlways;
    return fn(c, b, x, out, st);
  };
  auto whole = [fn](Comm& c, Backend& b, const RingAttentionArgs& a, float* out, RingStats* st) {
    RingAttentionArgs x = a;
    x.key_runs = KeyRunSplit::kNever;
    return fn(c, b, x, out, st);
  };
  const auto cut = run_attention(s, Where::kCpu, 2, split);
  const auto uncut = run_attention(s, Where::kCpu, 2, whole);
  check_against_reference(s, outputs(cut));
  require_position_hints(cut);
  int cut_calls = 0, uncut_calls = 0, scattered = 0;
  for (int r = 0; r < n; ++r) {
    REQUIRE(cut[r].stats.attention_calls == cut[r].calls);
    REQUIRE(cut[r].pairs <= uncut[r].pairs);  // invisible key runs are dropped
    cut_calls += cut[r].calls;
    uncut_calls += uncut[r].calls;
    scattered += cut[r].scattered_key_calls;
  }
  REQUIRE(cut_calls >= uncut_calls);
  // Without decode tokens in the history every key run is a chunk or part of
  // one: no call sees scattered keys. (Round-robin decode tokens make more
  // than kMaxKeyRuns runs; those spans stay whole.)
  if (hist == 0) REQUIRE(scattered == 0);
  if (hist == 0 && n > 1 && t >= 37) REQUIRE(cut_calls > uncut_calls);
}

TEST_CASE("fully masked query runs and blocks cost no attention call", "[cp][ring]") {
  // N = 2, T = 4, P = 0: c = 1; rank 0 owns positions {0, 3}, rank 1 {1, 2}.
  // pass-KV, rank 0: run {0} sees its own key 0 (1 pair), run {3} keys {0, 3}
  //   (2), run {0} against rank 1's keys {1, 2}: fully masked, no call;
  //   run {3} against them (2): 3 calls, 5 pairs.
  // rank 1: run {1, 2} against its own {1, 2} (4 pairs), against rank 0's
  //   {0, 3}: only key 0 is visible (2 pairs): 2 calls, 6 pairs.
  const Scenario s = make_scenario(2, {}, 0, 4, false, 77u, /*extra_kv_padding=*/0);
  REQUIRE(s.ranks[0].q_pos == std::vector<int32_t>{0, 3});
  REQUIRE(s.ranks[1].q_pos == std::vector<int32_t>{1, 2});
  const auto res = run_attention(s, Where::kCpu, 1, &ring_pass_kv);
  check_against_reference(s, outputs(res));
  REQUIRE(res[0].calls == 3);
  REQUIRE(res[0].pairs == 5);
  REQUIRE(res[1].calls == 2);
  REQUIRE(res[1].pairs == 6);
  REQUIRE(res[0].stats.skipped_blocks == 0);

  // T = 1 on N = 4: ranks 1..3 hold only padding, so every block they see or
  // own is skipped: rank 0 makes the one call, for both variants.
  const Scenario one = make_scenario(4, {}, 0, 1, false, 78u);
  for (RingFn fn : {&ring_pass_kv, &ring_pass_q}) {
    const auto r1 = run_attention(one, Where::kCpu, 1, fn);
    check_against_reference(one, outputs(r1));
    REQUIRE(r1[0].calls == 1);
    for (int r = 1; r < 4; ++r) {
      REQUIRE(r1[r].calls == 0);
      REQUIRE(r1[r].stats.skipped_blocks == 4);
    }
    REQUIRE(r1[0].stats.skipped_blocks == 3);
  }
}

TEST_CASE("CP decode equals the f64 reference on every rank", "[cp][ring]") {
  const int n = GENERATE(1, 2, 3, 4);
  const DecodeVariant variant = GENERATE(DecodeVariant::kAllGather, DecodeVariant::kRingPassQ);
  const int64_t rows = GENERATE(1, 3);
  const int hist = GENERATE(1, 2);
  const Where where = GENERATE(Where::kCpu, Where::kCpuStaged, Where::kCpuDeviceComm);
  CAPTURE(n, decode_variant_name(variant), rows, hist, where);

  const Scenario s = make_scenario(n, kHistories[hist].prior, kHistories[hist].decode_between, rows,
                                   true, 5000u + n * 31 + rows * 7 + hist);
  const int layers = 2;
  const auto res = run_attention(
      s, where, layers,
      [variant](Comm& c, Backend& b, const RingAttentionArgs& a, float* out, RingStats* st) {
        return cp_decode_attention(c, b, a, out, st, variant);
      });
  check_against_reference(s, outputs(res));
  require_position_hints(res);
  for (int r = 1; r < n; ++r) REQUIRE(res[r].out == res[0].out);  // identical on all ranks

  const uint64_t hd = uint64_t(s.hq) * s.d;
  uint64_t per_layer = 0;
  if (n > 1 && variant == DecodeVariant::kAllGather) {
    per_layer = (n - 1) * (rows * uint64_t(s.hq) * (s.d + 1) * 4);
  } else if (n > 1) {
    const uint64_t g = (rows + n - 1) / n;
    per_layer = (n - 1) * (g * (hd * 4 + 4) + g * uint64_t(s.hq) * (s.d + 1) * 4 + g * hd * 4);
  }
  for (int r = 0; r < n; ++r) {
    CAPTURE(r);
    REQUIRE(res[r].stats.bytes_sent == layers * per_layer);
    REQUIRE(res[r].comm_bytes == layers * per_layer);
    REQUIRE(res[r].stats.steps == layers * n);
    if (where == Where::kCpuDeviceComm && variant == DecodeVariant::kRingPassQ) {
      // The groups' positions are known on every rank: the decode ring reads
      // none back and waits on the host for no transfer until its last step.
      // (It reads the query positions and its KV shard's once each, before
      // the ring.)
      REQUIRE(res[r].device_waits == (n - 1) * layers);
      REQUIRE(res[r].max_outstanding == std::max(0, n - 2));
      REQUIRE(res[r].to_host_copies == 2 * layers);
    }
  }
}

TEST_CASE("a reserved workspace leaves the ring nothing to allocate", "[cp][ring]") {
  const int n = GENERATE(1, 2, 3);
  const int algo = GENERATE(0, 1, 2, 3);  // pass-KV, pass-Q, decode all-gather, decode ring pass-Q
  const Where where = GENERATE(Where::kCpu, Where::kCpuStaged, Where::kCpuDeviceComm);
  const KeyRunSplit split = GENERATE(KeyRunSplit::kAuto, KeyRunSplit::kAlways);
  CAPTURE(n, algo, where, int(split));
  const bool decode = algo >= 2;
  const Scenario s = make_scenario(n, kHistories[1].prior, kHistories[1].decode_between,
                                   decode ? 3 : 37, decode, 6100u + n * 13 + algo);
  check_against_reference(s, outputs(run_reserved(s, where, algo, split)));

  // Without a workspace every call allocates its own.
  const auto own = run_attention(
      s, where, 1, [&](Comm& c, Backend& b, const RingAttentionArgs& a, float* out, RingStats* st) {
        auto& counting = static_cast<CountingBackend&>(b);
        const int before = counting.allocs;
        RINGLM_RETURN_IF_ERROR(run_algorithm(algo, c, b, a, out, st));
        return counting.allocs > before ? Status::Ok() : Internal("the call allocated nothing");
      });
  check_against_reference(s, outputs(own));
}

TEST_CASE("a workspace reserve refuses what the call would", "[cp][ring]") {
  auto backend = make_cpu_backend({1});
  SelfComm comm(std::chrono::seconds(1));
  RingAttentionArgs a;
  a.tq = 4, a.tk = 4, a.hq = 4, a.hkv = 2, a.d = 8;
  REQUIRE(reserve_ring_pass_kv(comm, *backend, a).code() == StatusCode::kInvalidArgument);  // no workspace
  RingWorkspace ws;
  a.workspace = &ws;
  a.hq = 3;  // not a multiple of hkv
  REQUIRE(reserve_ring_pass_q(comm, *backend, a).code() == StatusCode::kInvalidArgument);
  REQUIRE(reserve_cp_decode(comm, *backend, a, DecodeVariant::kAllGather, true).code() ==
          StatusCode::kInvalidArgument);
  REQUIRE(ws.allocations() == 0);
  a.hq = 4;
  REQUIRE(reserve_ring_pass_kv(comm, *backend, a).ok());
  REQUIRE(ws.allocations() > 0);
  REQUIRE(ws.held_bytes() > 0);
}

TEST_CASE("ring attention rejects malformed arguments", "[cp][ring]") {
  const Scenario s = make_scenario(2, {}, 0, 5, false, 9u);
  auto st = run_ranks(2, Where::kCpu, [&](Comm& comm, CountingBackend& backend) -> Status {
    RingAttentionArgs a = args_of(s, s.ranks[comm.rank()]);
    std::vector<float> out(s.tq * s.hq * s.d);
    a.hkv = 3;  // hq = 4 is not a multiple
    Status e1 = ring_pass_kv(comm, backend, a, out.data(), nullptr);
    a = args_of(s, s.ranks[comm.rank()]);
    a.k = nullptr;
    Status e2 = ring_pass_q(comm, backend, a, out.data(), nullptr);
    a = args_of(s, s.ranks[comm.rank()]);
    Status e3 = cp_decode_attention(comm, backend, a, nullptr, nullptr, DecodeVariant::kAuto);
    a = args_of(s, s.ranks[comm.rank()]);
    const std::vector<std::vector<int32_t>> one_rank{s.ranks[0].q_pos};  // N vectors needed
    a.q_pos_by_rank = one_rank;
    Status e4 = ring_pass_q(comm, backend, a, out.data(), nullptr);
    a = args_of(s, s.ranks[comm.rank()]);
    const std::vector<std::vector<int32_t>> short_kv{{1, 2}, {3, 4}};  // tk each needed
    a.k_pos_by_rank = short_kv;
    Status e5 = ring_pass_kv(comm, backend, a, out.data(), nullptr);
    for (const Status& e : {e1, e2, e3, e4, e5}) {
      if (e.code() != StatusCode::kInvalidArgument) return Internal("expected kInvalidArgument");
    }
    // Nothing was sent: the group is still usable, and a null stats is fine.
    return ring_pass_kv(comm, backend, args_of(s, s.ranks[comm.rank()]), out.data(), nullptr);
  });
  for (const Status& e : st) {
    INFO(e.ToString());
    REQUIRE(e.ok());
  }
}

TEST_CASE("a rank that leaves fails the ring on its peers with a status", "[cp][ring]") {
  const Where where = GENERATE(Where::kCpu, Where::kCpuStaged, Where::kCpuDeviceComm);
  const bool pass_q = GENERATE(false, true);
  const int n = GENERATE(2, 3);  // N = 2: the one exchange per call is the last
  CAPTURE(where, pass_q, n);
  const Scenario s = make_scenario(n, {20}, 1, 37, false, 77u);
  std::vector<Status> ring(n);
  std::vector<int> outstanding(n, -1);
  auto st = run_ranks(n, where, [&](Comm& comm, CountingBackend& backend) -> Status {
    comm.set_timeout(std::chrono::seconds(5));
    RINGLM_RETURN_IF_ERROR(comm.barrier());  // every rank connected
    if (comm.rank() == n - 1) {  // leaves before the ring: its peers see its connections close
      comm.abort();
      return Status::Ok();
    }
    auto* flag = dynamic_cast<test::DeviceFlagComm*>(&comm);
    if (flag) flag->defer_errors = true;
    std::vector<float> out(s.tq * s.hq * s.d);
    const RingAttentionArgs a = args_of(s, s.ranks[comm.rank()]);
    ring[comm.rank()] = pass_q ? ring_pass_q(comm, backend, a, out.data(), nullptr)
                               : ring_pass_kv(comm, backend, a, out.data(), nullptr);
    if (flag) outstanding[comm.rank()] = flag->outstanding;
    return Status::Ok();
  });
  for (int r = 0; r < n - 1; ++r) {
    CAPTURE(r, st[r].ToString(), ring[r].ToString());
    REQUIRE(st[r].ok());
    REQUIRE(!ring[r].ok());
    const StatusCode c = ring[r].code();
    REQUIRE((c == StatusCode::kUnavailable || c == StatusCode::kDeadlineExceeded ||
             c == StatusCode::kCancelled));
    REQUIRE(ring[r].message().find("ring") != std::string::npos);
    // Device waits: the failure surfaced in a later host wait, and every
    // exchange was waited for before the call returned.
    if (where == Where::kCpuDeviceComm) REQUIRE(outstanding[r] == 0);
  }
}

TEST_CASE("long prefill after earlier turns, both variants", "[cp][ring]") {
  const int n = GENERATE(2, 4);
  const bool pass_q = GENERATE(false, true);
  CAPTURE(n, pass_q);
  // T = 1001 is not a multiple of 2N; P = 60 from two earlier turns.
  const Scenario s = make_scenario(n, {40, 17}, 1, 1001, false, 4242u + n);
  const auto res = run_attention(s, Where::kCpu, 1, pass_q ? &ring_pass_q : &ring_pass_kv);
  check_against_reference(s, outputs(res));
  // Chunk pairing skips the masked (query chunk, key chunk) pairs: of the 2N x 2N
  // chunk pairs of the turn only the N(2N+1) on or below the diagonal are
  // computed (62.5% for N = 2, 56% for N = 4), against the full tq x tk
  // blocks of every step (the cached keys are visible to all).
  int64_t pairs = 0;
  for (const auto& r : res) pairs += r.pairs;
  const int64_t dense = int64_t(n) * n * s.tq * s.tk;
  CAPTURE(pairs, dense);
  REQUIRE(pairs * 4 < dense * 3);
}

TEST_CASE("ring attention on the CUDA backend, staged or on the device-Comm path",
          "[cp][ring][gpu]") {
  if (!have_cuda()) {
    WARN("skipped: no CUDA device (or built without CUDA)");
    return;
  }
  const int n = GENERATE(1, 2, 3, 4);
  const int kind = GENERATE(0, 1, 2, 3);  // pass-KV, pass-Q, decode all-gather, decode ring
  const int hist = GENERATE(0, 2);
  const kernels::KvType kv = GENERATE(kernels::KvType::kF32, kernels::KvType::kBF16);
  const Where where = GENERATE(Where::kCuda, Where::kCudaDeviceComm);
  if (where == Where::kCudaDeviceComm && hist != 0) return;  // a subset of the grid suffices
  CAPTURE(n, kind, hist, kernels::kv_type_name(kv), where);
  const bool decode = kind >= 2;
  const int64_t t = decode ? 3 : 2 * n + 1;
  const Scenario s = make_scenario(n, kHistories[hist].prior, kHistories[hist].decode_between, t,
                                   decode, 9000u + n * 13 + kind * 3 + hist, 2, kv);
  const int layers = 2;
  const auto res =
      run_attention(s, where, layers,
                    [kind](Comm& c, Backend& b, const RingAttentionArgs& a, float* out,
                           RingStats* st) { return run_algorithm(kind, c, b, a, out, st); });
  check_against_reference(s, outputs(res));
  require_position_hints(res);
  if (decode) {
    for (int r = 1; r < n; ++r) REQUIRE(res[r].out == res[0].out);
  }
  // From a workspace reserved for the step, as the engine runs it: right,
  // and nothing allocated over the layers.
  check_against_reference(s, outputs(run_reserved(s, where, kind, KeyRunSplit::kAuto)));
  if (where == Where::kCudaDeviceComm) {
    // The rings (all but the all-gather decode, which decode pass-Q is on one
    // rank) timed by CUDA events, every transfer waited on the device and
    // then once on the host.
    const bool ring = kind < 2 || (kind == 3 && n > 1);
    for (int r = 0; r < n; ++r) {
      CAPTURE(r);
      REQUIRE(res[r].marks == (ring ? 2 * n * layers : 0));
      REQUIRE(res[r].device_waits == (ring ? (n - 1) * layers : 0));
      REQUIRE(res[r].host_only_waits == 0);
      REQUIRE(res[r].outstanding == 0);
      REQUIRE(res[r].stats.compute_ms >= 0);
    }
  }
}
