// TransferWatchdog on a real CUDA stream: a transfer's deadline counts from
// its start event, failures are reported once from the watchdog's thread,
// unwatch() withdraws a transfer, post() runs on the watchdog's thread, a
// give-up test (a peer lost on the control plane) ends a watched transfer.
// "Transfers" here are host functions holding a stream between two events.
#include <cuda_runtime_api.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "comm/nccl/transfer_watchdog.h"

using namespace ringlm;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// Holds stream `s` for `ms` milliseconds (a host function sleeping on it).
void hold_stream(cudaStream_t s, intptr_t ms) {
  const cudaHostFn_t sleep = [](void* p) {
    std::this_thread::sleep_for(std::chrono::milliseconds(reinterpret_cast<intptr_t>(p)));
  };
  REQUIRE(cudaLaunchHostFunc(s, sleep, reinterpret_cast<void*>(ms)) == cudaSuccess);
}

struct Fixture {
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, end = nullptr;
  std::atomic<int> failures{0};
  std::atomic<int> error{-1};
  std::atomic<std::thread::id> failed_on{};
  Clock::time_point failed_at;

  Fixture() {
    REQUIRE(cudaSetDevice(0) == cudaSuccess);
    REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess);
    REQUIRE(cudaEventCreate(&start) == cudaSuccess);
    REQUIRE(cudaEventCreate(&end) == cudaSuccess);
  }
  ~Fixture() {
    (void)cudaStreamSynchronize(stream);
    (void)cudaEventDestroy(start);
    (void)cudaEventDestroy(end);
    (void)cudaStreamDestroy(stream);
  }
  std::unique_ptr<TransferWatchdog> watchdog(std::chrono::milliseconds timeout,
                                             std::function<bool()> give_up = {}) {
    return std::make_unique<TransferWatchdog>(
        0, [timeout] { return timeout; },
        [this](cudaError_t e) {
          failed_at = Clock::now();
          error = int(e);
          failed_on = std::this_thread::get_id();
          ++failures;
        },
        std::move(give_up));
  }
  bool wait_for_failure(std::chrono::milliseconds limit) {
    const auto until = Clock::now() + limit;
    while (failures == 0 && Clock::now() < until) std::this_thread::sleep_for(1ms);
    return failures > 0;
  }
};

}  // namespace

TEST_CASE("a transfer running past its deadline fails once, on the watchdog's thread",
          "[gpu][watchdog]") {
  Fixture f;
  auto wd = f.watchdog(200ms);
  REQUIRE(cudaEventRecord(f.start, f.stream) == cudaSuccess);
  hold_stream(f.stream, 1000);  // the "transfer" runs 1 s
  REQUIRE(cudaEventRecord(f.end, f.stream) == cudaSuccess);
  const auto t0 = Clock::now();
  REQUIRE(wd->watch(f.start, f.end));
  REQUIRE(f.wait_for_failure(900ms));
  const double ms = std::chrono::duration<double, std::milli>(f.failed_at - t0).count();
  CAPTURE(ms);
  CHECK(f.error == int(cudaSuccess));  // an expiry, not a device error
  CHECK(ms >= 195);
  CHECK(ms < 900);
  CHECK(f.failed_on.load() != std::this_thread::get_id());
  // Once failed, it watches nothing more and fails no second time.
  CHECK_FALSE(wd->watch(f.start, f.end));
  REQUIRE(cudaStreamSynchronize(f.stream) == cudaSuccess);
  std::this_thread::sleep_for(50ms);
  CHECK(f.failures == 1);
}

TEST_CASE("a transfer queued behind other work does not expire while it waits its turn",
          "[gpu][watchdog]") {
  Fixture f;
  auto wd = f.watchdog(500ms);
  hold_stream(f.stream, 1500);  // work ahead of the transfer: 3x its timeout
  REQUIRE(cudaEventRecord(f.start, f.stream) == cudaSuccess);
  hold_stream(f.stream, 1);  // the transfer itself: far within its timeout
  REQUIRE(cudaEventRecord(f.end, f.stream) == cudaSuccess);
  REQUIRE(wd->watch(f.start, f.end));
  REQUIRE(cudaStreamSynchronize(f.stream) == cudaSuccess);
  std::this_thread::sleep_for(100ms);  // long past any deadline counted from watch()
  CHECK(f.failures == 0);
  wd->unwatch(f.end);
}

TEST_CASE("unwatch() withdraws a transfer before its deadline", "[gpu][watchdog]") {
  Fixture f;
  auto wd = f.watchdog(100ms);
  REQUIRE(cudaEventRecord(f.start, f.stream) == cudaSuccess);
  hold_stream(f.stream, 500);
  REQUIRE(cudaEventRecord(f.end, f.stream) == cudaSuccess);
  REQUIRE(wd->watch(f.start, f.end));
  wd->unwatch(f.end);
  REQUIRE(cudaStreamSynchronize(f.stream) == cudaSuccess);
  CHECK(f.failures == 0);
}

TEST_CASE("post() runs a function on the watchdog's thread", "[gpu][watchdog]") {
  Fixture f;
  auto wd = f.watchdog(100ms);
  std::atomic<bool> ran{false};
  std::atomic<std::thread::id> on{};
  REQUIRE(wd->post([&] {
    on = std::this_thread::get_id();
    ran = true;
  }));
  const auto until = Clock::now() + 2s;
  while (!ran && Clock::now() < until) std::this_thread::sleep_for(1ms);
  REQUIRE(ran);
  CHECK(on.load() != std::this_thread::get_id());
}

TEST_CASE("give_up() fails a watched transfer long before its deadline", "[gpu][watchdog]") {
  Fixture f;
  std::atomic<bool> lost{false};
  auto wd = f.watchdog(10s, [&lost] { return lost.load(); });
  REQUIRE(cudaEventRecord(f.start, f.stream) == cudaSuccess);
  hold_stream(f.stream, 1000);
  REQUIRE(cudaEventRecord(f.end, f.stream) == cudaSuccess);
  REQUIRE(wd->watch(f.start, f.end));
  std::this_thread::sleep_for(50ms);
  CHECK(f.failures == 0);  // not before give_up() says so
  const auto t0 = Clock::now();
  lost = true;
  REQUIRE(f.wait_for_failure(500ms));
  CHECK(std::chrono::duration<double, std::milli>(f.failed_at - t0).count() < 200);
  CHECK(f.error == int(cudaSuccess));
  REQUIRE(cudaStreamSynchronize(f.stream) == cudaSuccess);
  CHECK(f.failures == 1);
}
