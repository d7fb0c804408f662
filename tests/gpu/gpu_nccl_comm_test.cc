// NcclComm on the GPUs this machine has. One rank always runs (NCCL with a
// single rank still goes through its send/recv and collective paths); two
// ranks run on two GPUs when there are two, else both on GPU 0, which many
// NCCL versions refuse ("duplicate GPU"): then the two-rank cases report that
// they were skipped and why.
#include <cuda_runtime_api.h>

#include <chrono>
#include <condition_variable>
#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "comm/nccl/nccl_comm.h"
#include "gpu_test_util.h"

namespace ringlm::test {
namespace {

using namespace std::chrono_literals;

// Host bootstrap between threads of this process: broadcast (what
// NcclComm::Create needs) and nothing else.
class ThreadHub {
 public:
  explicit ThreadHub(int size) : size_(size) {}

  Status broadcast(int rank, void* buf, size_t bytes, int root, uint64_t& seen) {
    std::unique_lock<std::mutex> lk(mu_);
    if (rank == root) {
      if (!cv_.wait_for(lk, 30s, [&] { return readers_ == 0; })) return DeadlineExceeded("hub");
      data_.assign(static_cast<uint8_t*>(buf), static_cast<uint8_t*>(buf) + bytes);
      readers_ = size_ - 1;
      ++gen_;
      seen = gen_;
      cv_.notify_all();
      if (!cv_.wait_for(lk, 30s, [&] { return readers_ == 0; })) return DeadlineExceeded("hub");
    } else {
      const uint64_t want = seen + 1;
      if (!cv_.wait_for(lk, 30s, [&] { return gen_ >= want; })) return DeadlineExceeded("hub");
      if (data_.size() != bytes) return Internal("hub: size mismatch");
      std::memcpy(buf, data_.data(), bytes);
      seen = want;
      --readers_;
      cv_.notify_all();
    }
    return Status::Ok();
  }

 private:
  const int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<uint8_t> data_;
  uint64_t gen_ = 0;
  int readers_ = 0;
};

class ThreadComm final : public Comm {
 public:
  ThreadComm(ThreadHub& hub, int rank, int size) : hub_(hub), rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void set_timeout(std::chrono::milliseconds) override {}
  std::chrono::milliseconds timeout() const override { return 30s; }
  Result<std::unique_ptr<CommRequest>> ring_exchange(const void*, void*, size_t, uint32_t) override {
    return Unsupported("test hub");
  }
  Status all_to_all(const void*, void*, size_t) override { return Unsupported("test hub"); }
  Status all_to_allv(const void*, const std::vector<size_t>&, void*, const std::vector<size_t>&) override {
    return Unsupported("test hub");
  }
  Status all_gather(const void*, void*, size_t) override { return Unsupported("test hub"); }
  Status broadcast(void* buf, size_t bytes, int root) override {
    return hub_.broadcast(rank_, buf, bytes, root, seen_);
  }
  Status barrier() override { return Unsupported("test hub"); }
  void abort() override {}
  uint64_t bytes_sent() const override { return 0; }

 private:
  ThreadHub& hub_;
  int rank_, size_;
  uint64_t seen_ = 0;
};

// Failures collected off the main thread (Catch2's assertions are not
// thread-safe); checked by the test afterwards.
struct Errors {
  std::string text;
  void expect(bool ok, const std::string& what) {
    if (!ok) text += what + "\n";
  }
  void ok(const Status& st, const std::string& what) {
    if (!st.ok()) text += what + ": " + st.ToString() + "\n";
  }
};

// Device int32 buffer on the current device.
struct DevInts {
  int32_t* p = nullptr;
  size_t n = 0;
  explicit DevInts(size_t count) : n(count) {
    if (cudaMalloc(&p, sizeof(int32_t) * std::max<size_t>(n, 1)) != cudaSuccess) p = nullptr;
  }
  ~DevInts() { cudaFree(p); }
  // Done when it returns: a pageable cudaMemcpy may return before its DMA
  // lands, and NCCL reads on a stream of its own.
  bool set(const std::vector<int32_t>& v) {
    return p && v.size() == n &&
           cudaMemcpy(p, v.data(), sizeof(int32_t) * n, cudaMemcpyHostToDevice) == cudaSuccess &&
           cudaDeviceSynchronize() == cudaSuccess;
  }
  std::vector<int32_t> get() const {
    std::vector<int32_t> v(n, -7);
    if (p) (void)cudaMemcpy(v.data(), p, sizeof(int32_t) * n, cudaMemcpyDeviceToHost);
    return v;
  }
};

std::vector<int32_t> pattern(int rank, int to, size_t n) {
  std::vector<int32_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = int32_t(rank * 1000000 + to * 10000 + int(i));
  return v;
}

std::vector<int32_t> concat_blocks(int n, const std::function<std::vector<int32_t>(int)>& block) {
  std::vector<int32_t> all;
  for (int r = 0; r < n; ++r) {
    auto b = block(r);
    all.insert(all.end(), b.begin(), b.end());
  }
  return all;
}

// Creates `size` NcclComms on threads; device of rank r: devices[r].
std::vector<Result<std::unique_ptr<Comm>>> create_group(int size, const std::vector<int>& devices,
                                                        std::chrono::milliseconds timeout) {
  ThreadHub hub(size);
  std::vector<std::unique_ptr<ThreadComm>> boot;
  for (int r = 0; r < size; ++r) boot.push_back(std::make_unique<ThreadComm>(hub, r, size));
  std::vector<Result<std::unique_ptr<Comm>>> out;
  for (int r = 0; r < size; ++r) out.emplace_back(Internal("not run"));
  std::vector<std::thread> th;
  for (int r = 0; r < size; ++r)
    th.emplace_back([&, r] { out[size_t(r)] = NcclComm::Create(*boot[size_t(r)], devices[size_t(r)], timeout); });
  for (auto& t : th) t.join();
  return out;
}

// Runs every operation once on rank `c` of a group and checks the data.
// Thread-safe (no Catch2 assertions); failures go to the returned text.
std::string exercise(Comm& c, int device) {
  Errors e;
  if (cudaSetDevice(device) != cudaSuccess) return "cudaSetDevice failed";
  const int n = c.size(), me = c.rank();
  const size_t k = 1000;
  e.expect(c.device_memory(), "device_memory()");

  // ring_exchange: receive prev's pattern.
  DevInts send(k), recv(k);
  e.expect(send.set(pattern(me, c.next(), k)), "upload");
  auto req = c.ring_exchange(send.p, recv.p, k * 4, 7);
  e.ok(req.status(), "ring_exchange");
  if (req.ok()) {
    e.ok(req.value()->wait(), "ring wait");
    e.ok(req.value()->wait(), "second ring wait");
  }
  e.expect(recv.get() == pattern(c.prev(), me, k), "ring_exchange data");

  // all_to_all: block r of recv came from rank r.
  DevInts a2a_s(k * n), a2a_r(k * n);
  e.expect(a2a_s.set(concat_blocks(n, [&](int r) { return pattern(me, r, k); })), "upload");
  e.ok(c.all_to_all(a2a_s.p, a2a_r.p, k * 4), "all_to_all");
  e.expect(a2a_r.get() == concat_blocks(n, [&](int r) { return pattern(r, me, k); }), "all_to_all data");

  // all_to_allv: rank a sends (a + b + 1) * 3 ints to rank b (uneven, never 0).
  std::vector<size_t> sb(static_cast<size_t>(n)), rb(static_cast<size_t>(n));
  size_t st = 0, rt = 0;
  for (int r = 0; r < n; ++r) {
    sb[size_t(r)] = size_t(me + r + 1) * 3 * 4;
    rb[size_t(r)] = size_t(r + me + 1) * 3 * 4;
    st += sb[size_t(r)] / 4;
    rt += rb[size_t(r)] / 4;
  }
  DevInts v_s(st), v_r(rt);
  e.expect(v_s.set(concat_blocks(n, [&](int r) { return pattern(me, r, sb[size_t(r)] / 4); })), "upload");
  e.ok(c.all_to_allv(v_s.p, sb, v_r.p, rb), "all_to_allv");
  e.expect(v_r.get() == concat_blocks(n, [&](int r) { return pattern(r, me, rb[size_t(r)] / 4); }),
           "all_to_allv data");

  // all_gather.
  DevInts g_s(k), g_r(k * n);
  e.expect(g_s.set(pattern(me, 0, k)), "upload");
  e.ok(c.all_gather(g_s.p, g_r.p, k * 4), "all_gather");
  e.expect(g_r.get() == concat_blocks(n, [&](int r) { return pattern(r, 0, k); }), "all_gather data");

  // broadcast from the last rank.
  DevInts b(k);
  e.expect(b.set(pattern(me, 99, k)), "upload");
  e.ok(c.broadcast(b.p, k * 4, n - 1), "broadcast");
  e.expect(b.get() == pattern(n - 1, 99, k), "broadcast data");

  e.ok(c.barrier(), "barrier");
  e.expect(n == 1 || c.bytes_sent() > 0, "bytes_sent()");
  return e.text;
}

TEST_CASE("one rank: every operation", "[gpu][nccl]") {
  auto g = create_group(1, {0}, 60s);
  require_ok(g[0].status());
  const std::string err = exercise(*g[0].value(), 0);
  INFO(err);
  CHECK(err.empty());
}

TEST_CASE("one rank: ordered after the compute stream, waited on the host or the device; abort",
          "[gpu][nccl]") {
  const bool on_device = GENERATE(false, true);
  CAPTURE(on_device);
  auto g = create_group(1, {0}, 60s);
  require_ok(g[0].status());
  auto& comm = static_cast<NcclComm&>(*g[0].value());
  Backend& be = cuda_backend();
  comm.set_compute_stream(static_cast<cudaStream_t>(cuda_backend_stream(be)));
  const int64_t n = 1 << 22;
  const size_t bytes = sizeof(float) * n;
  auto src = be.alloc(bytes), dst = be.alloc(bytes), seen = be.alloc(bytes);
  require_ok(src.status());
  require_ok(dst.status());
  require_ok(seen.status());
  // Enqueued on the backend stream, not waited for: the exchange must see it.
  for (int i = 0; i < 8; ++i) require_ok(be.fill(src->as<float>(), float(i), n));
  auto req = comm.ring_exchange(src->data(), dst->data(), bytes, 0);
  require_ok(req.status());
  if (on_device) {
    require_ok(req.value()->wait_on_device());
    // Queued after the device-side wait, with no host wait in between: the
    // copy reads the received block, and the fill rewrites the send buffer
    // only after it was sent.
    require_ok(be.copy(seen->data(), dst->data(), bytes));
    require_ok(be.fill(src->as<float>(), -1.f, n));
    require_ok(req.value()->wait());
  } else {
    require_ok(req.value()->wait());
    // A kernel right after a host wait: the wait's polling must leave no
    // "not ready" behind for the launch to report.
    require_ok(be.fill(seen->as<float>(), 0.f, n));
    require_ok(be.copy(seen->data(), dst->data(), bytes));
  }
  CHECK(req.value()->device_ms() >= 0);
  require_ok(be.synchronize());
  std::vector<float> host(static_cast<size_t>(n));
  for (const Buffer* b : {&dst.value(), &seen.value()}) {
    REQUIRE(cudaMemcpy(host.data(), b->data(), bytes, cudaMemcpyDeviceToHost) == cudaSuccess);
    CHECK(std::all_of(host.begin(), host.end(), [](float v) { return v == 7.f; }));
  }

  comm.abort();
  CHECK(comm.barrier().code() == StatusCode::kUnavailable);
  CHECK(comm.ring_exchange(src->data(), dst->data(), 4, 0).status().code() == StatusCode::kUnavailable);
}

TEST_CASE("one rank: an exchange queued behind long compute does not expire", "[gpu][nccl]") {
  auto g = create_group(1, {0}, 60s);
  require_ok(g[0].status());
  auto& comm = static_cast<NcclComm&>(*g[0].value());
  Backend& be = cuda_backend();
  auto stream = static_cast<cudaStream_t>(cuda_backend_stream(be));
  comm.set_compute_stream(stream);
  const size_t bytes = 1 << 20;
  auto src = be.alloc(bytes), dst = be.alloc(bytes);
  require_ok(src.status());
  require_ok(dst.status());
  // A first exchange under the default timeout loads NCCL's kernels.
  auto warm = comm.ring_exchange(src->data(), dst->data(), bytes, 0);
  require_ok(warm.status());
  require_ok(warm.value()->wait());
  comm.set_timeout(500ms);
  // The compute stream is held for 1.5 s (3x the timeout) and the exchange
  // is ordered after it: its deadline counts from when it can start, so the
  // watchdog must leave it alone.
  REQUIRE(cudaLaunchHostFunc(stream, [](void*) { std::this_thread::sleep_for(1500ms); }, nullptr) ==
          cudaSuccess);
  auto req = comm.ring_exchange(src->data(), dst->data(), bytes, 0);
  require_ok(req.status());
  require_ok(req.value()->wait_on_device());
  require_ok(be.synchronize());
  require_ok(req.value()->wait());
  CHECK(req.value()->device_ms() >= 0);
  require_ok(comm.barrier());
}

TEST_CASE("two ranks: every operation, then a missed deadline", "[gpu][nccl]") {
  const int ndev = cuda_device_count();
  const std::vector<int> devices = ndev >= 2 ? std::vector<int>{0, 1} : std::vector<int>{0, 0};
  // On one GPU NCCL either refuses at once or never finishes: keep that wait short.
  auto g = create_group(2, devices, devices[0] == devices[1] ? 20s : 60s);
  if (!g[0].ok() || !g[1].ok()) {
    const Status& st = !g[0].ok() ? g[0].status() : g[1].status();
    if (devices[0] == devices[1]) {
      WARN("SKIPPED (two ranks): NCCL would not put two ranks of one communicator on GPU 0 ("
           << st.ToString() << "); this needs two GPUs");
      return;
    }
    INFO(g[0].status().ToString() << " / " << g[1].status().ToString());
    FAIL("two-rank NcclComm::Create failed on two GPUs");
  }
  std::string err[2];
  {
    std::vector<std::thread> th;
    for (int r = 0; r < 2; ++r)
      th.emplace_back([&, r] { err[r] = exercise(*g[size_t(r)].value(), devices[size_t(r)]); });
    for (auto& t : th) t.join();
  }
  INFO("rank 0:\n" << err[0] << "rank 1:\n" << err[1]);
  REQUIRE((err[0].empty() && err[1].empty()));
  // Rank 1 never joins: rank 0's collective misses its deadline, and the
  // communicator is unusable afterwards.
  Comm& c0 = *g[0].value();
  c0.set_timeout(500ms);
  REQUIRE(cudaSetDevice(devices[0]) == cudaSuccess);
  DevInts s(16), r(32);
  REQUIRE((s.p && r.p));
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(c0.all_gather(s.p, r.p, 64).code() == StatusCode::kDeadlineExceeded);
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  CHECK(c0.barrier().code() == StatusCode::kUnavailable);
  g[1].value()->set_timeout(2s);
}

}  // namespace
}  // namespace ringlm::test
