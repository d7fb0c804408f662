// KV shards moved between the leader and the ranks in bounded pieces
// (runtime/kv_transfer.h), over loopback Gloo with N rank threads: the bytes
// arrive exactly, every rank runs the same number of collectives, and none
// moves more than one piece. Rank threads only record what they saw; the
// test thread checks it (Catch2 is not thread-safe).
#include "runtime/kv_transfer.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "comm/gloo/gloo_comm.h"
#include "comm/gloo/gloo_store.h"
#include "comm/local/local_comm.h"
#include "comm/self_comm.h"

using namespace ringlm;

namespace {

// Forwards to a Comm and records each collective: how many, and the most
// bytes one all_to_allv moved from or to this rank. With leader_delay, the
// leader takes that long before each all_to_allv (a slow link, a long
// shard: the leader's pieces for earlier ranks take time).
class CountingComm final : public Comm {
 public:
  explicit CountingComm(std::unique_ptr<Comm> inner) : inner_(std::move(inner)) {}
  int collectives = 0;
  size_t most_bytes = 0;
  std::chrono::milliseconds leader_delay{0};

  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  void set_timeout(std::chrono::milliseconds t) override { inner_->set_timeout(t); }
  std::chrono::milliseconds timeout() const override { return inner_->timeout(); }
  Result<std::unique_ptr<CommRequest>> ring_exchange(const void* send, void* recv, size_t bytes,
                                                     uint32_t tag) override {
    return inner_->ring_exchange(send, recv, bytes, tag);
  }
  Status all_to_all(const void* send, void* recv, size_t bytes_per_rank) override {
    ++collectives;
    return inner_->all_to_all(send, recv, bytes_per_rank);
  }
  Status all_to_allv(const void* send, const std::vector<size_t>& send_bytes, void* recv,
                     const std::vector<size_t>& recv_bytes) override {
    ++collectives;
    if (rank() == 0 && leader_delay.count() > 0) std::this_thread::sleep_for(leader_delay);
    size_t moved = 0;
    for (size_t r = 0; r < send_bytes.size(); ++r) moved += send_bytes[r] + recv_bytes[r];
    most_bytes = std::max(most_bytes, moved);
    return inner_->all_to_allv(send, send_bytes, recv, recv_bytes);
  }
  Status all_gather(const void* send, void* recv, size_t bytes_per_rank) override {
    ++collectives;
    return inner_->all_gather(send, recv, bytes_per_rank);
  }
  Status broadcast(void* buf, size_t bytes, int root) override {
    ++collectives;
    return inner_->broadcast(buf, bytes, root);
  }
  Status barrier() override {
    ++collectives;
    return inner_->barrier();
  }
  void abort() override { inner_->abort(); }
  uint64_t bytes_sent() const override { return inner_->bytes_sent(); }

 private:
  std::unique_ptr<Comm> inner_;
};

// n connected ranks, each wrapped.
std::vector<std::unique_ptr<CountingComm>> connect(int n, const std::string& prefix) {
  const StoreSpec store = StoreSpec::InProcess(std::make_shared<InProcessStore>());
  std::vector<Result<std::unique_ptr<Comm>>> made;
  for (int r = 0; r < n; ++r) made.emplace_back(Internal("not started"));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      GlooOptions o;
      o.rank = r, o.size = n, o.store = store, o.key_prefix = prefix;
      o.timeout = o.connect_timeout = std::chrono::seconds(30);
      made[size_t(r)] = GlooComm::Connect(o);
    });
  }
  for (auto& t : threads) t.join();
  std::vector<std::unique_ptr<CountingComm>> out;
  for (auto& m : made) {
    INFO(m.status().ToString());
    REQUIRE(m.ok());
    out.push_back(std::make_unique<CountingComm>(std::move(m).value()));
  }
  return out;
}

void run_ranks(int n, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) threads.emplace_back(fn, r);
  for (auto& t : threads) t.join();
}

std::vector<uint8_t> shard_bytes(int rank, size_t size) {
  std::vector<uint8_t> v(size);
  for (size_t i = 0; i < size; ++i) v[i] = uint8_t(rank * 71 + i * 13 + (i >> 9));
  return v;
}

}  // namespace

TEST_CASE("kv_transfer_collectives counts the pieces of the ranks' shards", "[kv_transfer]") {
  const std::vector<size_t> sizes{5000, 1000, 1001, 0};
  // The leader's own shard never travels.
  CHECK(kv_transfer_collectives(sizes, 1000) == 1 + 2 + 0);
  CHECK(kv_transfer_collectives(sizes, 1) == 2001);
  CHECK(kv_transfer_collectives(sizes, kKvPieceBytes) == 2);
  CHECK(kv_piece_bytes_or_default(0) == kKvPieceBytes);
}

TEST_CASE("shards are gathered and scattered exactly, one bounded piece a collective",
          "[kv_transfer]") {
  const int n = GENERATE(2, 3);
  const size_t piece = GENERATE(size_t(1000), size_t(4096), size_t(1) << 20);
  CAPTURE(n, piece);
  // Uneven shards: an empty one, one of exactly two pieces' worth on some grids.
  std::vector<size_t> sizes{3000, 9001, 2000};
  sizes.resize(size_t(n));
  if (n == 3) sizes[2] = 0;
  auto comms = connect(n, "kvt" + std::to_string(n) + "_" + std::to_string(piece));

  // Gather: every rank's shard to the leader.
  std::vector<Status> st(static_cast<size_t>(n));
  std::vector<std::vector<uint8_t>> got;
  run_ranks(n, [&](int r) {
    st[size_t(r)] = gather_kv_shards(*comms[size_t(r)], shard_bytes(r, sizes[size_t(r)]), sizes,
                                     piece, r == 0 ? &got : nullptr);
  });
  const size_t expected = kv_transfer_collectives(sizes, piece);
  for (int r = 0; r < n; ++r) {
    INFO("rank " << r << ": " << st[size_t(r)].ToString());
    CHECK(st[size_t(r)].ok());
    CHECK(size_t(comms[size_t(r)]->collectives) == expected);
    CHECK(comms[size_t(r)]->most_bytes <= piece + size_t(n));  // + the tokens
  }
  REQUIRE(got.size() == size_t(n));
  for (int r = 0; r < n; ++r) CHECK(got[size_t(r)] == shard_bytes(r, sizes[size_t(r)]));
  // These really went in pieces: more collectives than shards that travel.
  if (piece < sizes[1])
    CHECK(expected >
          size_t(std::count_if(sizes.begin() + 1, sizes.end(), [](size_t s) { return s > 0; })));

  // Scatter: the leader's shards back to their ranks.
  for (auto& c : comms) c->collectives = 0, c->most_bytes = 0;
  std::vector<std::span<const uint8_t>> views(got.begin(), got.end());
  std::vector<std::vector<uint8_t>> mine(size_t(n), std::vector<uint8_t>(3, 0xee));
  run_ranks(n, [&](int r) {
    st[size_t(r)] = scatter_kv_shards(*comms[size_t(r)], r == 0 ? views : decltype(views){}, sizes,
                                      piece, r == 0 ? nullptr : &mine[size_t(r)]);
  });
  for (int r = 0; r < n; ++r) {
    INFO("rank " << r << ": " << st[size_t(r)].ToString());
    CHECK(st[size_t(r)].ok());
    CHECK(size_t(comms[size_t(r)]->collectives) == expected);
    CHECK(comms[size_t(r)]->most_bytes <= piece + size_t(n));  // + the tokens
    if (r > 0) CHECK(mine[size_t(r)] == shard_bytes(r, sizes[size_t(r)]));
  }
}

TEST_CASE("a kv transfer refuses a plan that does not match its buffers", "[kv_transfer]") {
  std::vector<std::unique_ptr<CountingComm>> comms;
  comms.push_back(std::make_unique<CountingComm>(std::make_unique<SelfComm>()));
  std::vector<std::vector<uint8_t>> out;
  const std::vector<size_t> one{10};
  CHECK(gather_kv_shards(*comms[0], std::vector<uint8_t>(9), one, 4, &out).code() ==
        StatusCode::kInvalidArgument);
  CHECK(gather_kv_shards(*comms[0], std::vector<uint8_t>(10), one, 0, &out).code() ==
        StatusCode::kInvalidArgument);
  const std::vector<size_t> two{10, 10};
  CHECK(gather_kv_shards(*comms[0], std::vector<uint8_t>(10), two, 4, &out).code() ==
        StatusCode::kInvalidArgument);
  std::vector<uint8_t> ten(10);
  const std::vector<std::span<const uint8_t>> views{ten};
  CHECK(scatter_kv_shards(*comms[0], views, std::vector<size_t>{11}, 4, nullptr).code() ==
        StatusCode::kInvalidArgument);
  // N = 1: the leader keeps its shard, nothing travels.
  REQUIRE(gather_kv_shards(*comms[0], std::vector<uint8_t>(ten), one, 4, &out).ok());
  CHECK(out == std::vector<std::vector<uint8_t>>{ten});
  CHECK(comms[0]->collectives == 0);
}

// Each piece is bounded by the comm deadline; a rank with nothing to move in
// a piece must not return from it at once, or rank 2 would wait for its first
// piece from the start of rank 1's, under one deadline.
TEST_CASE("a rank whose shard comes last does not wait out the earlier ranks' pieces",
          "[kv_transfer]") {
  const int n = 3;
  auto made = LocalComm::Group(n, std::chrono::milliseconds(500));
  REQUIRE(made.ok());
  std::vector<std::unique_ptr<CountingComm>> comms;
  for (auto& c : *made) {
    comms.push_back(std::make_unique<CountingComm>(std::move(c)));
    comms.back()->leader_delay = std::chrono::milliseconds(100);
  }
  const size_t piece = 1000;
  const std::vector<size_t> sizes{0, 10 * piece, piece};  // rank 1: ~1 s of pieces
  std::vector<Status> st(static_cast<size_t>(n));
  std::vector<std::vector<uint8_t>> got;
  run_ranks(n, [&](int r) {
    st[size_t(r)] = gather_kv_shards(*comms[size_t(r)], shard_bytes(r, sizes[size_t(r)]), sizes,
                                     piece, r == 0 ? &got : nullptr);
  });
  for (int r = 0; r < n; ++r) {
    INFO("gather, rank " << r << ": " << st[size_t(r)].ToString());
    CHECK(st[size_t(r)].ok());
  }
}

TEST_CASE("a rank that cannot hold its shard aborts the transfer at once", "[kv_transfer]") {
  // Rank 1 is to receive 2^62 bytes (its reserve throws bad_alloc): it aborts
  // its comm, and the leader, inside the first piece, fails at once instead
  // of at its 30 s deadline.
  const int n = 2;
  auto made = LocalComm::Group(n, std::chrono::seconds(30));
  REQUIRE(made.ok());
  auto comms = std::move(made).value();
  const size_t piece = 16;
  std::vector<uint8_t> small(piece, 7);
  const size_t huge = size_t(1) << 62;
  const std::vector<size_t> sizes{0, huge};
  // Only the first piece of the leader's span would be read.
  const std::vector<std::span<const uint8_t>> shards{{}, {small.data(), huge}};
  std::vector<Status> st(static_cast<size_t>(n));
  std::vector<uint8_t> mine;
  const auto t0 = std::chrono::steady_clock::now();
  run_ranks(n, [&](int r) {
    st[size_t(r)] = scatter_kv_shards(*comms[size_t(r)], shards, sizes, piece,
                                      r == 0 ? nullptr : &mine);
  });
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  CHECK(st[1].code() == StatusCode::kResourceExhausted);
  CHECK(st[0].code() == StatusCode::kUnavailable);
}
