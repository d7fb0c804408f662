// LocalComm: the in-process Comm. The same contract as GlooComm's tests
// (comm_gloo_test.cc): every collective moves the right bytes, deadlines,
// abort, a rank that leaves, argument checks, sticky failure (rank threads:
// rank_threads.h).
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "comm/link_bandwidth.h"
#include "comm/local/local_comm.h"
#include "rank_threads.h"

namespace ringlm {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

using test::check_all_ok;
using test::describe;
using test::pattern;
using test::run_ranks;
using test::seconds_since;

std::vector<std::unique_ptr<Comm>> group(int n, milliseconds timeout = milliseconds(20000)) {
  auto g = LocalComm::Group(n, timeout);
  REQUIRE(g.ok());
  return std::move(g).value();
}

}  // namespace

TEST_CASE("LocalComm collectives move the right bytes", "[comm][local]") {
  const int n = GENERATE(2, 3, 4);
  CAPTURE(n);
  auto comms = group(n);
  auto errors = run_ranks(n, [&](int r) -> std::string {
    Comm& c = *comms[size_t(r)];
    // Ring exchange: several tags at once, sizes 0, 1 and 1 MiB + 7.
    const std::vector<size_t> sizes = {0, 1, (size_t{1} << 20) + 7};
    std::vector<std::vector<uint8_t>> send(sizes.size()), recv(sizes.size());
    std::vector<std::unique_ptr<CommRequest>> reqs;
    for (size_t t = 0; t < sizes.size(); ++t) {
      send[t].resize(sizes[t]);
      recv[t].assign(sizes[t], 0);
      for (size_t i = 0; i < sizes[t]; ++i) send[t][i] = pattern(r, c.next(), i + t);
      auto q = c.ring_exchange(send[t].data(), recv[t].data(), sizes[t], uint32_t(t));
      if (!q.ok()) return q.status().ToString();
      reqs.push_back(std::move(q).value());
    }
    for (auto& q : reqs)
      if (Status s = q->wait(); !s.ok()) return s.ToString();
    for (size_t t = 0; t < sizes.size(); ++t)
      for (size_t i = 0; i < sizes[t]; ++i)
        if (recv[t][i] != pattern(c.prev(), r, i + t)) return "ring byte " + std::to_string(i);
    // all_to_allv: rank r sends (r + d + 1) * 100 bytes to rank d.
    std::vector<size_t> sb(static_cast<size_t>(n)), rb(static_cast<size_t>(n));
    for (int d = 0; d < n; ++d) {
      sb[size_t(d)] = size_t(r + d + 1) * 100;
      rb[size_t(d)] = size_t(d + r + 1) * 100;
    }
    std::vector<uint8_t> out, in;
    for (int d = 0; d < n; ++d)
      for (size_t i = 0; i < sb[size_t(d)]; ++i) out.push_back(pattern(r, d, i));
    size_t total = 0;
    for (size_t x : rb) total += x;
    in.assign(total, 0);
    if (Status s = c.all_to_allv(out.data(), sb, in.data(), rb); !s.ok()) return s.ToString();
    size_t off = 0;
    for (int src = 0; src < n; ++src) {
      for (size_t i = 0; i < rb[size_t(src)]; ++i)
        if (in[off + i] != pattern(src, r, i)) return "all_to_allv byte from " + std::to_string(src);
      off += rb[size_t(src)];
    }
    // all_gather, in place; broadcast from the last rank; barrier.
    std::vector<uint8_t> all(size_t(n) * 1000);
    for (size_t i = 0; i < 1000; ++i) all[size_t(r) * 1000 + i] = pattern(r, 0, i);
    if (Status s = c.all_gather(all.data() + size_t(r) * 1000, all.data(), 1000); !s.ok())
      return s.ToString();
    for (int src = 0; src < n; ++src)
      for (size_t i = 0; i < 1000; ++i)
        if (all[size_t(src) * 1000 + i] != pattern(src, 0, i)) return "all_gather";
    std::vector<uint8_t> b(5000, uint8_t(r));
    if (Status s = c.broadcast(b.data(), b.size(), n - 1); !s.ok()) return s.ToString();
    if (b != std::vector<uint8_t>(5000, uint8_t(n - 1))) return "broadcast";
    return describe(c.barrier());
  });
  check_all_ok(errors);
  // Each rank sent its ring messages, its all_to_allv and all_gather blocks,
  // broadcast copies and barrier tokens to others.
  for (int r = 0; r < n; ++r) CHECK(comms[size_t(r)]->bytes_sent() > (size_t{1} << 20));
}

TEST_CASE("LocalComm: a peer that never joins gives kDeadlineExceeded, then the group fails",
          "[comm][local]") {
  auto comms = group(2, milliseconds(500));
  std::vector<uint8_t> send(64, 1), recv(64, 0);
  const auto t0 = Clock::now();
  auto req = comms[0]->ring_exchange(send.data(), recv.data(), send.size(), 0);
  REQUIRE(req.ok());
  CHECK((*req)->wait().code() == StatusCode::kDeadlineExceeded);
  CHECK(seconds_since(t0) >= 0.45);
  CHECK(seconds_since(t0) < 3.0);
  CHECK((*req)->wait().code() == StatusCode::kDeadlineExceeded);  // the same result again
  CHECK(comms[0]->barrier().code() == StatusCode::kUnavailable);
  CHECK(comms[1]->barrier().code() == StatusCode::kUnavailable);  // at once, not at its deadline
  CHECK(comms[1]->failed());
}

TEST_CASE("LocalComm::abort", "[comm][local]") {
  auto comms = group(2, milliseconds(30000));
  std::vector<uint8_t> send(1 << 16, 1), recv(1 << 16, 0);
  SECTION("on the peer: a blocked rank fails promptly with kUnavailable") {
    std::thread peer([&] {
      std::this_thread::sleep_for(milliseconds(200));
      comms[1]->abort();
    });
    const auto t0 = Clock::now();
    auto req = comms[0]->ring_exchange(send.data(), recv.data(), send.size(), 3);
    Status s = req.ok() ? (*req)->wait() : req.status();
    peer.join();
    CHECK(s.code() == StatusCode::kUnavailable);
    CHECK(seconds_since(t0) < 3.0);
    CHECK(comms[1]->barrier().code() == StatusCode::kCancelled);
    CHECK(comms[0]->failed());
  }
  SECTION("from another thread: the rank's own blocked call returns kCancelled") {
    std::thread other([&] {
      std::this_thread::sleep_for(milliseconds(200));
      comms[0]->abort();
    });
    Status s = comms[0]->all_gather(send.data(), recv.data(), send.size() / 2);
    other.join();
    CHECK(s.code() == StatusCode::kCancelled);
    CHECK(comms[1]->barrier().code() == StatusCode::kUnavailable);
  }
}

TEST_CASE("LocalComm: a peer that leaves fails a blocked rank at once; one that leaves after "
          "its last collective fails no one", "[comm][local]") {
  {
    auto comms = group(2, milliseconds(30000));
    std::vector<uint8_t> send(1 << 20, 1), recv(1 << 20, 0);
    std::thread peer([&] {
      std::this_thread::sleep_for(milliseconds(200));
      comms[1].reset();
    });
    const auto t0 = Clock::now();
    auto req = comms[0]->ring_exchange(send.data(), recv.data(), send.size(), 0);
    Status s = req.ok() ? (*req)->wait() : req.status();
    peer.join();
    CHECK(s.code() == StatusCode::kUnavailable);
    CHECK(seconds_since(t0) < 3.0);
  }
  for (int round = 0; round < 20; ++round) {
    const int n = 3;
    auto comms = group(n);
    auto errors = run_ranks(n, [&](int r) -> std::string {
      std::vector<uint8_t> mine(100000, uint8_t(r)), all(100000 * n);
      if (Status s = comms[size_t(r)]->all_gather(mine.data(), all.data(), mine.size()); !s.ok())
        return s.ToString();
      std::this_thread::sleep_for(std::chrono::microseconds(((r + round) % n) * 300));
      Status s = comms[size_t(r)]->barrier();
      comms[size_t(r)].reset();  // leave at once
      return describe(s);
    });
    INFO("round " << round);
    check_all_ok(errors);
  }
}

TEST_CASE("LocalComm: argument checks leave the group usable; sizes that disagree fail it",
          "[comm][local]") {
  auto comms = group(2, milliseconds(20000));
  uint8_t a[8] = {}, b[8] = {};
  CHECK(comms[0]->ring_exchange(a, b, 8, 1u << 16).status().code() == StatusCode::kInvalidArgument);
  CHECK(comms[0]->ring_exchange(nullptr, b, 8, 0).status().code() == StatusCode::kInvalidArgument);
  CHECK(comms[0]->all_to_allv(a, {1}, b, {1, 1}).code() == StatusCode::kInvalidArgument);
  CHECK(comms[0]->broadcast(a, 8, 2).code() == StatusCode::kInvalidArgument);
  check_all_ok(run_ranks(2, [&](int r) { return describe(comms[size_t(r)]->barrier()); }));

  std::vector<StatusCode> codes(2);
  run_ranks(2, [&](int r) -> std::string {
    std::vector<uint8_t> s(16), d(16);
    codes[size_t(r)] = comms[size_t(r)]->broadcast(s.data(), r == 0 ? 16 : 8, 0).code();
    return "";
  });
  CHECK(codes[0] != StatusCode::kOk);
  CHECK(codes[1] != StatusCode::kOk);
  CHECK((codes[0] == StatusCode::kInternal || codes[1] == StatusCode::kInternal));
  CHECK(comms[0]->failed());

  CHECK(LocalComm::Group(0, milliseconds(10)).status().code() == StatusCode::kInvalidArgument);
  CHECK(LocalComm::Group(2, milliseconds(0)).status().code() == StatusCode::kInvalidArgument);
  auto solo = group(1);
  CHECK(solo[0]->size() == 1);
  CHECK(solo[0]->barrier().ok());
}

TEST_CASE("LocalComm: destroying an unwaited request waits for it", "[comm][local]") {
  auto comms = group(2);
  auto errors = run_ranks(2, [&](int r) -> std::string {
    std::vector<uint8_t> send(100000, uint8_t(r)), recv(100000, 0);
    {
      auto req = comms[size_t(r)]->ring_exchange(send.data(), recv.data(), send.size(), 5);
      if (!req.ok()) return req.status().ToString();
    }
    if (recv != std::vector<uint8_t>(100000, uint8_t(1 - r))) return "data not there";
    return describe(comms[size_t(r)]->barrier());
  });
  check_all_ok(errors);
}

TEST_CASE("measure_ring_bandwidth on LocalComm agrees on every rank", "[comm][local]") {
  auto comms = group(2);
  std::vector<double> bw(2, 0);
  auto errors = run_ranks(2, [&](int r) -> std::string {
    auto b = measure_ring_bandwidth(*comms[size_t(r)], 8u << 20, 5);
    if (!b.ok()) return b.status().ToString();
    bw[size_t(r)] = *b;
    return "";
  });
  check_all_ok(errors);
  CHECK(bw[0] == bw[1]);
  CHECK(bw[0] > 1e8);
}

// A rank leaves right after its collective completed while two other
// ranks' exchange is still being copied: their messages complete, so the
// collective must succeed for them too (the contract: "a message that
// completed before the failure still reports success").
TEST_CASE("LocalComm: a copy in progress when a peer leaves still succeeds", "[comm][local]") {
  const int n = 3;
  auto comms = group(n);
  const size_t big = size_t(128) << 20;
  std::vector<std::string> errors = test::run_ranks(n, [&](int r) -> std::string {
    std::vector<size_t> sb(3, 0), rb(3, 0);
    for (int d = 0; d < n; ++d) {
      if (d == r) continue;
      const bool large = (r != 0 && d != 0);
      sb[size_t(d)] = rb[size_t(d)] = large ? big : 1;
    }
    size_t st = 0, rt = 0;
    for (int d = 0; d < n; ++d) st += sb[size_t(d)], rt += rb[size_t(d)];
    std::vector<uint8_t> out(st, uint8_t(r));
    std::unique_ptr<uint8_t[]> in(new uint8_t[rt]);  // untouched: the copy page-faults in
    if (Status b = comms[size_t(r)]->barrier(); !b.ok()) return "barrier: " + b.ToString();
    std::this_thread::sleep_for(milliseconds(r == 1 ? 0 : r == 2 ? 30 : 45));
    Status s = comms[size_t(r)]->all_to_allv(out.data(), sb, in.get(), rb);
    if (r == 0) comms[0].reset();  // leaves at once after its last collective
    return test::describe(s);
  });
  test::check_all_ok(errors);
}

}  // namespace ringlm
