// GlooComm with N rank threads in one process, over the in-process store and a
// file store (rank threads: rank_threads.h).
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "comm/comm.h"
#include "comm/gloo/gloo_comm.h"
#include "comm/gloo/gloo_store.h"
#include "comm/link_bandwidth.h"
#include "rank_threads.h"
#include "test_util.h"

namespace ringlm {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

using test::check_all_ok;
using test::describe;
using test::pattern;
using test::run_ranks;
using test::seconds_since;

StoreSpec make_store(const std::string& kind, const std::string& test_name) {
  if (kind == "file") return StoreSpec::File(test::temp_dir("comm_gloo/" + test_name));
  return StoreSpec::InProcess(std::make_shared<InProcessStore>());
}

GlooOptions options(int rank, int size, const StoreSpec& store, const std::string& prefix,
                    milliseconds timeout = milliseconds(20000)) {
  GlooOptions o;
  o.rank = rank;
  o.size = size;
  o.store = store;
  o.key_prefix = prefix;
  o.timeout = timeout;
  o.connect_timeout = timeout;
  return o;
}

// Connects n ranks concurrently; REQUIREs that all succeed.
std::vector<std::unique_ptr<Comm>> connect_group(int n, const StoreSpec& store,
                                                 const std::string& prefix,
                                                 milliseconds timeout = milliseconds(20000)) {
  std::vector<std::unique_ptr<Comm>> comms(static_cast<size_t>(n));
  auto errors = run_ranks(n, [&](int r) -> std::string {
    auto c = GlooComm::Connect(options(r, n, store, prefix, timeout));
    if (!c.ok()) return c.status().ToString();
    comms[static_cast<size_t>(r)] = std::move(c).value();
    return "";
  });
  check_all_ok(errors);
  for (auto& c : comms) REQUIRE(c != nullptr);
  for (int r = 0; r < n; ++r) {
    REQUIRE(comms[static_cast<size_t>(r)]->rank() == r);
    REQUIRE(comms[static_cast<size_t>(r)]->size() == n);
  }
  return comms;
}

std::string check_block(const uint8_t* got, size_t bytes, int src, int dst, int salt) {
  for (size_t i = 0; i < bytes; ++i) {
    if (got[i] != pattern(src, dst, i, salt)) {
      return "byte " + std::to_string(i) + " of the block from rank " + std::to_string(src) +
             " is wrong";
    }
  }
  return "";
}

}  // namespace

TEST_CASE("GlooComm collectives move the right bytes", "[comm][gloo]") {
  const std::string kind = GENERATE(as<std::string>{}, "in-process", "file");
  const int n = GENERATE(2, 3, 4);
  INFO("store " << kind << ", N = " << n);
  const std::string name = "collectives_" + kind + "_" + std::to_string(n);
  auto comms = connect_group(n, make_store(kind, name), "g");

  SECTION("ring_exchange: several concurrent tags, sizes 0, 1 and 1 MiB + 7") {
    const std::vector<size_t> sizes = {0, 1, (size_t{1} << 20) + 7};
    std::vector<uint64_t> sent_before(static_cast<size_t>(n));
    for (int r = 0; r < n; ++r) sent_before[r] = comms[r]->bytes_sent();
    auto errors = run_ranks(n, [&](int r) -> std::string {
      Comm& c = *comms[static_cast<size_t>(r)];
      for (int round = 0; round < 2; ++round) {
        std::vector<std::vector<uint8_t>> send(sizes.size()), recv(sizes.size());
        std::vector<std::unique_ptr<CommRequest>> reqs;
        for (size_t t = 0; t < sizes.size(); ++t) {
          send[t].resize(sizes[t]);
          recv[t].assign(sizes[t], 0);
          for (size_t i = 0; i < sizes[t]; ++i)
            send[t][i] = pattern(r, c.next(), i, int(t) + round);
          auto req = c.ring_exchange(send[t].data(), recv[t].data(), sizes[t],
                                     static_cast<uint32_t>(10 + t));
          if (!req.ok()) return req.status().ToString();
          reqs.push_back(std::move(req).value());
        }
        // Wait in reverse order of posting.
        for (size_t t = sizes.size(); t-- > 0;) {
          if (Status s = reqs[t]->wait(); !s.ok()) return s.ToString();
          if (Status s = reqs[t]->wait(); !s.ok()) return "second wait: " + s.ToString();
          auto e = check_block(recv[t].data(), sizes[t], c.prev(), r, int(t) + round);
          if (!e.empty()) return e;
        }
      }
      return "";
    });
    check_all_ok(errors);
    uint64_t per_round = 0;
    for (size_t s : sizes) per_round += s;
    for (int r = 0; r < n; ++r) CHECK(comms[r]->bytes_sent() - sent_before[r] == 2 * per_round);
  }

  SECTION("ring_exchange: one tag reused step after step, like a ring pass") {
    auto errors = run_ranks(n, [&](int r) -> std::string {
      Comm& c = *comms[static_cast<size_t>(r)];
      // Pass each rank's block round the ring: after n - 1 steps rank r has
      // seen the blocks of every other rank, in order r-1, r-2, ...
      const size_t bytes = 4099;
      std::vector<uint8_t> cur(bytes), next(bytes);
      for (size_t i = 0; i < bytes; ++i) cur[i] = pattern(r, 0, i);
      for (int step = 1; step < n; ++step) {
        auto req = c.ring_exchange(cur.data(), next.data(), bytes, 7);
        if (!req.ok()) return req.status().ToString();
        if (Status s = (*req)->wait(); !s.ok()) return s.ToString();
        int origin = (r - step + n) % n;
        auto e = check_block(next.data(), bytes, origin, 0, 0);
        if (!e.empty()) return "step " + std::to_string(step) + ": " + e;
        std::swap(cur, next);
      }
      return "";
    });
    check_all_ok(errors);
  }

  SECTION("all_to_all") {
    const size_t bpr = GENERATE(size_t{0}, size_t{1}, size_t{3001});
    auto errors = run_ranks(n, [&](int r) -> std::string {
      Comm& c = *comms[static_cast<size_t>(r)];
      std::vector<uint8_t> send(bpr * n), recv(bpr * n, 0);
      for (int d = 0; d < n; ++d) {
        for (size_t i = 0; i < bpr; ++i) send[d * bpr + i] = pattern(r, d, i, 3);
      }
      if (Status s = c.all_to_all(send.data(), recv.data(), bpr); !s.ok()) return s.ToString();
      for (int s = 0; s < n; ++s) {
        auto e = check_block(recv.data() + s * bpr, bpr, s, r, 3);
        if (!e.empty()) return e;
      }
      return "";
    });
    check_all_ok(errors);
  }

  SECTION("all_to_allv with uneven sizes and zeros") {
    auto size_of = [](int src, int dst) -> size_t {
      size_t k = static_cast<size_t>((src * 3 + dst * 5) % 4);  // 0..3, zeros included
      return k == 0 ? 0 : k * 1000 + static_cast<size_t>(src) + 1;
    };
    auto errors = run_ranks(n, [&](int r) -> std::string {
      Comm& c = *comms[static_cast<size_t>(r)];
      std::vector<size_t> send_bytes(n), recv_bytes(n);
      for (int p = 0; p < n; ++p) {
        send_bytes[p] = size_of(r, p);
        recv_bytes[p] = size_of(p, r);
      }
      size_t st = 0, rt = 0;
      for (int p = 0; p < n; ++p) st += send_bytes[p], rt += recv_bytes[p];
      std::vector<uint8_t> send(st), recv(rt, 0);
      size_t off = 0;
      for (int d = 0; d < n; ++d) {
        for (size_t i = 0; i < send_bytes[d]; ++i) send[off + i] = pattern(r, d, i, 5);
        off += send_bytes[d];
      }
      if (Status s = c.all_to_allv(send.data(), send_bytes, recv.data(), recv_bytes); !s.ok()) {
        return s.ToString();
      }
      off = 0;
      for (int s = 0; s < n; ++s) {
        auto e = check_block(recv.data() + off, recv_bytes[s], s, r, 5);
        if (!e.empty()) return e;
        off += recv_bytes[s];
      }
      return "";
    });
    check_all_ok(errors);
  }

  SECTION("all_gather, also in place") {
    const size_t bpr = 777;
    auto errors = run_ranks(n, [&](int r) -> std::string {
      Comm& c = *comms[static_cast<size_t>(r)];
      std::vector<uint8_t> send(bpr), recv(bpr * n, 0);
      for (size_t i = 0; i < bpr; ++i) send[i] = pattern(r, 0, i, 9);
      if (Status s = c.all_gather(send.data(), recv.data(), bpr); !s.ok()) return s.ToString();
      for (int s = 0; s < n; ++s) {
        auto e = check_block(recv.data() + s * bpr, bpr, s, 0, 9);
        if (!e.empty()) return e;
      }
      std::vector<uint8_t> inplace(bpr * n, 0);
      for (size_t i = 0; i < bpr; ++i) inplace[r * bpr + i] = pattern(r, 1, i, 9);
      if (Status s = c.all_gather(inplace.data() + r * bpr, inplace.data(), bpr); !s.ok()) {
        return "in place: " + s.ToString();
      }
      for (int s = 0; s < n; ++s) {
        auto e = check_block(inplace.data() + s * bpr, bpr, s, 1, 9);
        if (!e.empty()) return "in place: " + e;
      }
      return "";
    });
    check_all_ok(errors);
  }

  SECTION("broadcast from every root, and broadcast_bytes") {
    auto errors = run_ranks(n, [&](int r) -> std::string {
      Comm& c = *comms[static_cast<size_t>(r)];
      for (int root = 0; root < n; ++root) {
        const size_t bytes = 100003 + static_cast<size_t>(root);
        std::vector<uint8_t> buf(bytes, 0);
        if (r == root) {
          for (size_t i = 0; i < bytes; ++i) buf[i] = pattern(root, 0, i, 11);
        }
        if (Status s = c.broadcast(buf.data(), bytes, root); !s.ok()) return s.ToString();
        auto e = check_block(buf.data(), bytes, root, 0, 11);
        if (!e.empty()) return "root " + std::to_string(root) + ": " + e;

        std::vector<uint8_t> data;
        if (r == root) data.assign(static_cast<size_t>(root) * 5 + 1, static_cast<uint8_t>(root));
        if (Status s = c.broadcast_bytes(data, root); !s.ok()) return s.ToString();
        if (data != std::vector<uint8_t>(static_cast<size_t>(root) * 5 + 1, uint8_t(root))) {
          return "broadcast_bytes from root " + std::to_string(root) + " differs";
        }
      }
      std::vector<uint8_t> empty;
      if (Status s = c.broadcast_bytes(empty, n - 1); !s.ok()) return s.ToString();
      if (!empty.empty()) return "empty broadcast_bytes arrived non-empty";
      return "";
    });
    check_all_ok(errors);
  }

  SECTION("barrier holds every rank until the last arrives") {
    std::vector<double> arrive(n), leave(n);
    const auto t0 = Clock::now();
    auto errors = run_ranks(n, [&](int r) -> std::string {
      Comm& c = *comms[static_cast<size_t>(r)];
      for (int round = 0; round < 3; ++round) {
        std::this_thread::sleep_for(milliseconds(40 * ((r + round) % n)));
        arrive[r] = seconds_since(t0);
        if (Status s = c.barrier(); !s.ok()) return s.ToString();
        leave[r] = seconds_since(t0);
        // Every rank's arrival for this round is recorded before it entered
        // the barrier, and read here only after everyone entered it.
        if (Status s = c.barrier(); !s.ok()) return s.ToString();
        double last = 0;
        for (int p = 0; p < n; ++p) last = std::max(last, arrive[p]);
        if (leave[r] + 1e-4 < last) return "left the barrier before the last rank arrived";
        if (Status s = c.barrier(); !s.ok()) return s.ToString();
      }
      return "";
    });
    check_all_ok(errors);
  }
}

TEST_CASE("GlooComm: one file store serves group after group", "[comm][gloo]") {
  // Each group takes its keys out once connected, so the same directory and
  // prefix serve the next run; it leaves no files behind.
  const StoreSpec store = make_store("file", "reuse");
  for (int run = 0; run < 3; ++run) {
    INFO("run " << run);
    auto comms = connect_group(2, store, "ringlm");
    int v = run;
    auto errors = run_ranks(2, [&](int r) -> std::string {
      int mine = r == 0 ? v : -1;
      return describe(comms[size_t(r)]->broadcast(&mine, sizeof(mine), 0));
    });
    check_all_ok(errors);
  }
  CHECK(std::filesystem::is_empty(store.path));
}

TEST_CASE("GlooComm: a key left by a group that did not finish is named", "[comm][gloo]") {
  const StoreSpec store = make_store("file", "stale");
  {
    // Rank 0 of a group whose rank 1 never came: its key stays.
    auto c = GlooComm::Connect(options(0, 2, store, "ringlm", milliseconds(300)));
    REQUIRE_FALSE(c.ok());
  }
  auto again = GlooComm::Connect(options(0, 2, store, "ringlm", milliseconds(300)));
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == StatusCode::kUnavailable);
  CHECK_THAT(again.status().message(), Catch::Contains("did not finish"));
}

TEST_CASE("GlooComm: several groups share one store under different prefixes", "[comm][gloo]") {
  auto store = std::make_shared<InProcessStore>();
  std::vector<std::string> results(2);
  std::thread groups[2];
  for (int g = 0; g < 2; ++g) {
    groups[g] = std::thread([&, g] {
      const int n = 2 + g;
      std::vector<std::unique_ptr<Comm>> comms(n);
      auto errors = run_ranks(n, [&](int r) -> std::string {
        auto c = GlooComm::Connect(
            options(r, n, StoreSpec::InProcess(store), "group" + std::to_string(g)));
        if (!c.ok()) return c.status().ToString();
        int v = (r == 0) ? 1000 + g : -1;
        if (Status s = (*c)->broadcast(&v, sizeof(v), 0); !s.ok()) return s.ToString();
        if (v != 1000 + g) return "wrong group value " + std::to_string(v);
        return "";
      });
      for (auto& e : errors) results[g] += e;
    });
  }
  for (auto& t : groups) t.join();
  CHECK(results[0] == "");
  CHECK(results[1] == "");
}

TEST_CASE("GlooComm: a rank that never connects fails the others in time", "[comm][gloo]") {
  const std::string kind = GENERATE(as<std::string>{}, "in-process", "file");
  INFO("store " << kind);
  const auto timeout = milliseconds(2000);
  StoreSpec store = make_store(kind, "missing_rank_" + kind);
  std::vector<double> elapsed(2);
  std::vector<StatusCode> codes(2, StatusCode::kOk);
  auto errors = run_ranks(2, [&](int r) -> std::string {
    const auto t0 = Clock::now();
    auto c = GlooComm::Connect(options(r, 3, store, "m", timeout));  // rank 2 never comes
    elapsed[r] = seconds_since(t0);
    codes[r] = c.status().code();
    return "";
  });
  check_all_ok(errors);
  for (int r = 0; r < 2; ++r) {
    INFO("rank " << r << " took " << elapsed[r] << " s");
    CHECK(codes[r] == StatusCode::kDeadlineExceeded);
    CHECK(elapsed[r] >= 1.9);
    CHECK(elapsed[r] < 2.0 + 2.0);
  }
}

TEST_CASE("GlooComm: a peer that never joins an operation gives kDeadlineExceeded",
          "[comm][gloo]") {
  const auto timeout = milliseconds(2000);
  auto comms =
      connect_group(2, StoreSpec::InProcess(std::make_shared<InProcessStore>()), "d", timeout);
  std::vector<uint8_t> send(64, 1), recv(64, 0);
  const auto t0 = Clock::now();
  auto req = comms[0]->ring_exchange(send.data(), recv.data(), send.size(), 0);
  REQUIRE(req.ok());
  Status s = (*req)->wait();
  const double took = seconds_since(t0);
  CHECK(s.code() == StatusCode::kDeadlineExceeded);
  CHECK(took >= 1.9);
  CHECK(took < 2.0 + 2.0);
  CHECK((*req)->wait().code() == StatusCode::kDeadlineExceeded);  // same result again

  // The failure is sticky here, and the peer's connections were closed.
  CHECK(comms[0]->barrier().code() == StatusCode::kUnavailable);
  const auto t1 = Clock::now();
  Status peer = comms[1]->barrier();
  CHECK(peer.code() == StatusCode::kUnavailable);
  CHECK(seconds_since(t1) < 1.5);

  SECTION("a collective times out too") {
    auto more =
        connect_group(3, StoreSpec::InProcess(std::make_shared<InProcessStore>()), "d2", timeout);
    std::vector<StatusCode> codes(2);
    std::vector<double> took2(2);
    auto errors = run_ranks(2, [&](int r) -> std::string {  // rank 2 stays away
      std::vector<uint8_t> buf(3 * 10), out(3 * 10);
      const auto t = Clock::now();
      codes[r] = more[r]->all_to_all(buf.data(), out.data(), 10).code();
      took2[r] = seconds_since(t);
      return "";
    });
    check_all_ok(errors);
    for (int r = 0; r < 2; ++r) {
      INFO("rank " << r << ": " << status_code_name(codes[r]) << " after " << took2[r] << " s");
      // Whichever rank times out first closes its connections; the other may
      // see that as a lost peer a moment before its own deadline.
      CHECK((codes[r] == StatusCode::kDeadlineExceeded || codes[r] == StatusCode::kUnavailable));
      CHECK(took2[r] < 2.0 + 2.0);
    }
  }
}

TEST_CASE("GlooComm::abort", "[comm][gloo]") {
  const auto timeout = milliseconds(30000);  // far beyond what the test waits
  auto comms =
      connect_group(2, StoreSpec::InProcess(std::make_shared<InProcessStore>()), "a", timeout);
  std::vector<uint8_t> send(1 << 16, 1), recv(1 << 16, 0);

  SECTION("on the peer: a blocked rank fails promptly with kUnavailable") {
    std::thread peer([&] {
      std::this_thread::sleep_for(milliseconds(300));
      comms[1]->abort();
    });
    const auto t0 = Clock::now();
    auto req = comms[0]->ring_exchange(send.data(), recv.data(), send.size(), 3);
    Status s = req.ok() ? (*req)->wait() : req.status();
    const double took = seconds_since(t0);
    peer.join();
    CHECK(s.code() == StatusCode::kUnavailable);
    CHECK(took < 3.0);
    CHECK(comms[1]->barrier().code() == StatusCode::kCancelled);
    CHECK(comms[1]->ring_exchange(send.data(), recv.data(), 8, 0).status().code() ==
          StatusCode::kCancelled);
  }

  SECTION("from another thread: the rank's own blocked call returns kCancelled") {
    std::thread other([&] {
      std::this_thread::sleep_for(milliseconds(300));
      comms[0]->abort();
      comms[0]->abort();  // idempotent
    });
    const auto t0 = Clock::now();
    Status s = comms[0]->all_gather(send.data(), recv.data(), send.size() / 2);
    const double took = seconds_since(t0);
    other.join();
    CHECK(s.code() == StatusCode::kCancelled);
    CHECK(took < 3.0);
    // The peer, which never joined, learns at its next call.
    CHECK(comms[1]->barrier().code() == StatusCode::kUnavailable);
  }
}

TEST_CASE("GlooComm: a peer whose comm is destroyed fails a blocked rank promptly",
          "[comm][gloo]") {
  auto comms = connect_group(2, StoreSpec::InProcess(std::make_shared<InProcessStore>()), "z",
                             milliseconds(30000));
  std::vector<uint8_t> send(1 << 20, 1), recv(1 << 20, 0);
  std::thread peer([&] {
    std::this_thread::sleep_for(milliseconds(300));
    comms[1].reset();
  });
  const auto t0 = Clock::now();
  auto req = comms[0]->ring_exchange(send.data(), recv.data(), send.size(), 0);
  Status s = req.ok() ? (*req)->wait() : req.status();
  const double took = seconds_since(t0);
  peer.join();
  CHECK(s.code() == StatusCode::kUnavailable);
  CHECK(took < 3.0);
}

TEST_CASE("GlooComm::failed() turns true when a peer aborts, with no call of this rank",
          "[comm][gloo]") {
  // Another transport over the same ranks (NcclComm) polls failed() to learn
  // that a peer left: it must turn true from the watchdog alone.
  auto comms = connect_group(2, StoreSpec::InProcess(std::make_shared<InProcessStore>()), "f",
                             milliseconds(30000));
  CHECK_FALSE(comms[0]->failed());
  CHECK_FALSE(comms[1]->failed());
  comms[1]->abort();
  CHECK(comms[1]->failed());
  const auto t0 = Clock::now();
  while (!comms[0]->failed() && seconds_since(t0) < 5.0) std::this_thread::sleep_for(milliseconds(5));
  CHECK(comms[0]->failed());
  CHECK(seconds_since(t0) < 3.0);
}

TEST_CASE("GlooComm: ranks that leave right after a last collective fail no one", "[comm][gloo]") {
  // A rank whose last barrier completed may destroy its comm while a peer's
  // copy of the barrier is still finishing; the peer must see success.
  const int n = 3;
  for (int round = 0; round < 10; ++round) {
    INFO("round " << round);
    auto comms = connect_group(n, StoreSpec::InProcess(std::make_shared<InProcessStore>()), "leave",
                               milliseconds(20000));
    auto errors = run_ranks(n, [&](int r) -> std::string {
      std::vector<uint8_t> mine(100000, uint8_t(r)), all(100000 * n);
      if (Status s = comms[r]->all_gather(mine.data(), all.data(), mine.size()); !s.ok()) {
        return s.ToString();
      }
      std::this_thread::sleep_for(std::chrono::microseconds(((r + round) % n) * 300));
      Status s = comms[r]->barrier();
      comms[r].reset();  // leave at once
      return describe(s);
    });
    check_all_ok(errors);
  }
}

TEST_CASE("GlooComm: a transfer that completed before its peer left still succeeds",
          "[comm][gloo]") {
  auto comms = connect_group(2, StoreSpec::InProcess(std::make_shared<InProcessStore>()), "done",
                             milliseconds(20000));
  std::vector<uint8_t> s0(4096, 1), r0(4096, 0), s1(4096, 2), r1(4096, 0);
  auto q0 = comms[0]->ring_exchange(s0.data(), r0.data(), s0.size(), 0);
  REQUIRE(q0.ok());
  auto q1 = comms[1]->ring_exchange(s1.data(), r1.data(), s1.size(), 0);
  REQUIRE(q1.ok());
  REQUIRE((*q1)->wait().ok());
  q1->reset();
  comms[1].reset();  // rank 1 leaves while rank 0 has not looked at its request yet
  std::this_thread::sleep_for(milliseconds(300));
  CHECK((*q0)->wait().ok());
  CHECK(r0 == s1);
  CHECK(comms[0]->barrier().code() == StatusCode::kUnavailable);
}

TEST_CASE("GlooComm: abort while large transfers are in flight", "[comm][gloo]") {
  // Messages far larger than the socket buffers, so some are half written
  // when the abort lands (from another thread, while rank 1 waits): the other
  // ranks must fail at once, not at their deadline.
  const int n = 3;
  auto comms = connect_group(n, StoreSpec::InProcess(std::make_shared<InProcessStore>()), "big",
                             milliseconds(30000));
  std::vector<StatusCode> codes(n, StatusCode::kOk);
  std::vector<int> steps(n, 0);
  std::vector<Clock::time_point> failed_at(n);
  Clock::time_point aborted_at;
  std::thread aborter([&] {
    std::this_thread::sleep_for(milliseconds(400));
    aborted_at = Clock::now();
    comms[1]->abort();
  });
  auto errors = run_ranks(n, [&](int r) -> std::string {
    const size_t bytes = 32u << 20;
    std::vector<uint8_t> send(bytes, uint8_t(r)), recv(bytes);
    for (int step = 0; step < 100000; ++step) {
      auto req = comms[r]->ring_exchange(send.data(), recv.data(), bytes, 0);
      Status s = req.ok() ? (*req)->wait() : req.status();
      if (!s.ok()) {
        codes[r] = s.code();
        steps[r] = step;
        failed_at[r] = Clock::now();
        return "";
      }
    }
    return "never failed";
  });
  aborter.join();
  check_all_ok(errors);
  CHECK(codes[1] == StatusCode::kCancelled);
  for (int r : {0, 2}) {
    const double after = std::chrono::duration<double>(failed_at[r] - aborted_at).count();
    INFO("rank " << r << " failed at step " << steps[r] << ", " << after << " s after the abort");
    CHECK(codes[r] == StatusCode::kUnavailable);
    CHECK(after < 3.0);
  }
}

TEST_CASE("measure_ring_bandwidth agrees on every rank", "[comm][gloo]") {
  const int n = GENERATE(2, 3);
  auto comms = connect_group(n, StoreSpec::InProcess(std::make_shared<InProcessStore>()), "bw");
  std::vector<double> bw(n, 0);
  auto errors = run_ranks(n, [&](int r) -> std::string {
    auto b = measure_ring_bandwidth(*comms[r], 8u << 20, 10);
    if (!b.ok()) return b.status().ToString();
    bw[r] = *b;
    return "";
  });
  check_all_ok(errors);
  for (int r = 0; r < n; ++r) CHECK(bw[r] == bw[0]);
  CHECK(bw[0] > 1e6);
  WARN("loopback ring bandwidth, " << n << " rank threads, 8 MiB steps: " << bw[0] / 1e9
                                   << " GB/s per rank");
}

TEST_CASE("GlooComm argument checks and size 1", "[comm][gloo]") {
  auto comms = connect_group(2, StoreSpec::InProcess(std::make_shared<InProcessStore>()), "x");
  uint8_t a[8] = {}, b[8] = {};
  CHECK(comms[0]->ring_exchange(a, b, 8, 1u << 16).status().code() == StatusCode::kInvalidArgument);
  CHECK(comms[0]->ring_exchange(nullptr, b, 8, 0).status().code() == StatusCode::kInvalidArgument);
  CHECK(comms[0]->all_to_allv(a, {1}, b, {1, 1}).code() == StatusCode::kInvalidArgument);
  CHECK(comms[0]->broadcast(a, 8, 2).code() == StatusCode::kInvalidArgument);
  // Invalid arguments do not break the group.
  auto errors = run_ranks(2, [&](int r) { return describe(comms[r]->barrier()); });
  check_all_ok(errors);

  GlooOptions bad;
  bad.size = 2;
  bad.rank = 2;
  CHECK(GlooComm::Connect(bad).status().code() == StatusCode::kInvalidArgument);
  bad.rank = 0;  // no store
  CHECK(GlooComm::Connect(bad).status().code() == StatusCode::kInvalidArgument);

  GlooOptions one;
  auto solo = GlooComm::Connect(one);
  REQUIRE(solo.ok());
  CHECK((*solo)->size() == 1);
  CHECK((*solo)->next() == 0);
  CHECK((*solo)->barrier().ok());
}

TEST_CASE("GlooComm: destroying an unwaited request waits for it", "[comm][gloo]") {
  auto comms = connect_group(2, StoreSpec::InProcess(std::make_shared<InProcessStore>()), "u");
  auto errors = run_ranks(2, [&](int r) -> std::string {
    std::vector<uint8_t> send(100000, uint8_t(r)), recv(100000, 0);
    {
      auto req = comms[r]->ring_exchange(send.data(), recv.data(), send.size(), 5);
      if (!req.ok()) return req.status().ToString();
    }
    if (recv != std::vector<uint8_t>(100000, uint8_t(1 - r))) return "data not there";
    return describe(comms[r]->barrier());
  });
  check_all_ok(errors);
}

}  // namespace ringlm
