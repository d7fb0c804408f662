// SelfComm (N = 1), store spec parsing, and the bandwidth helper on one rank.
#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "comm/gloo/gloo_store.h"
#include "comm/link_bandwidth.h"
#include "comm/self_comm.h"

namespace ringlm {

TEST_CASE("SelfComm copies and checks like a group of one", "[comm][self]") {
  SelfComm c(std::chrono::milliseconds(1234));
  CHECK(c.rank() == 0);
  CHECK(c.size() == 1);
  CHECK(c.next() == 0);
  CHECK(c.prev() == 0);
  CHECK(c.timeout() == std::chrono::milliseconds(1234));
  c.set_timeout(std::chrono::milliseconds(50));
  CHECK(c.timeout() == std::chrono::milliseconds(50));
  CHECK_FALSE(c.device_memory());

  std::vector<uint8_t> send(1001), recv(1001, 0);
  for (size_t i = 0; i < send.size(); ++i) send[i] = static_cast<uint8_t>(i * 13 + 1);

  SECTION("ring_exchange: done at once, wait() repeatable") {
    auto req = c.ring_exchange(send.data(), recv.data(), send.size(), 65535);
    REQUIRE(req.ok());
    CHECK(recv == send);
    CHECK((*req)->wait().ok());
    CHECK((*req)->wait().ok());
    auto zero = c.ring_exchange(nullptr, nullptr, 0, 0);
    REQUIRE(zero.ok());
    CHECK((*zero)->wait().ok());
    // In place is a no-op.
    auto same = c.ring_exchange(recv.data(), recv.data(), recv.size(), 1);
    REQUIRE(same.ok());
    CHECK(recv == send);
  }
  SECTION("collectives copy") {
    REQUIRE(c.all_to_all(send.data(), recv.data(), send.size()).ok());
    CHECK(recv == send);
    std::fill(recv.begin(), recv.end(), 0);
    REQUIRE(c.all_to_allv(send.data(), {send.size()}, recv.data(), {send.size()}).ok());
    CHECK(recv == send);
    std::fill(recv.begin(), recv.end(), 0);
    REQUIRE(c.all_gather(send.data(), recv.data(), send.size()).ok());
    CHECK(recv == send);
    auto before = send;
    REQUIRE(c.broadcast(send.data(), send.size(), 0).ok());
    CHECK(send == before);
    CHECK(c.barrier().ok());
    std::vector<uint8_t> bytes = {1, 2, 3};
    REQUIRE(c.broadcast_bytes(bytes, 0).ok());
    CHECK(bytes == std::vector<uint8_t>{1, 2, 3});
    CHECK(c.bytes_sent() == 0);
  }
  SECTION("argument checks") {
    CHECK(c.ring_exchange(send.data(), recv.data(), 1, 1u << 16).status().code() ==
          StatusCode::kInvalidArgument);
    CHECK(c.ring_exchange(nullptr, recv.data(), 1, 0).status().code() ==
          StatusCode::kInvalidArgument);
    CHECK(c.all_to_allv(send.data(), {1, 1}, recv.data(), {1, 1}).code() ==
          StatusCode::kInvalidArgument);
    CHECK(c.all_to_allv(send.data(), {2}, recv.data(), {1}).code() == StatusCode::kInvalidArgument);
    CHECK(c.broadcast(send.data(), 1, 1).code() == StatusCode::kInvalidArgument);
  }
  SECTION("abort fails every later call with kCancelled") {
    c.abort();
    CHECK(c.barrier().code() == StatusCode::kCancelled);
    CHECK(c.ring_exchange(send.data(), recv.data(), 1, 0).status().code() ==
          StatusCode::kCancelled);
    CHECK(c.all_to_all(send.data(), recv.data(), 1).code() == StatusCode::kCancelled);
  }
  SECTION("measure_ring_bandwidth runs on one rank") {
    auto bw = measure_ring_bandwidth(c, 1 << 16, 3);
    REQUIRE(bw.ok());
    CHECK(*bw > 0);
    CHECK(measure_ring_bandwidth(c, 0, 3).status().code() == StatusCode::kInvalidArgument);
    CHECK(measure_ring_bandwidth(c, 16, 0).status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("StoreSpec::Parse", "[comm][store]") {
  auto f = StoreSpec::Parse("file:/tmp/rdv");
  REQUIRE(f.ok());
  CHECK(f->kind == StoreSpec::Kind::kFile);
  CHECK(f->path == "/tmp/rdv");
  CHECK(f->ToString() == "file:/tmp/rdv");

  auto url = StoreSpec::Parse("file:///tmp/rdv");
  REQUIRE(url.ok());
  CHECK(url->path == "/tmp/rdv");

  auto bare = StoreSpec::Parse("/shared/ringlm");
  REQUIRE(bare.ok());
  CHECK(bare->kind == StoreSpec::Kind::kFile);
  CHECK(bare->path == "/shared/ringlm");
  auto rel = StoreSpec::Parse("./rdv");
  REQUIRE(rel.ok());
  CHECK(rel->path == "./rdv");

  auto r = StoreSpec::Parse("redis://10.0.0.5:7000");
  REQUIRE(r.ok());
  CHECK(r->kind == StoreSpec::Kind::kRedis);
  CHECK(r->host == "10.0.0.5");
  CHECK(r->port == 7000);
  CHECK(r->ToString() == "redis://10.0.0.5:7000");

  auto rd = StoreSpec::Parse("redis://head-node");
  REQUIRE(rd.ok());
  CHECK(rd->host == "head-node");
  CHECK(rd->port == 6379);

  auto r6 = StoreSpec::Parse("redis://[::1]:6380");
  REQUIRE(r6.ok());
  CHECK(r6->host == "::1");
  CHECK(r6->port == 6380);
  CHECK(r6->ToString() == "redis://[::1]:6380");

  for (const char* bad :
       {"", "file:", "redis://", "redis://host:", "redis://host:0", "redis://host:70000",
        "redis://host:12x", "redis://[::1", "tcp://host:1", "relative/dir"}) {
    INFO("spec '" << bad << "'");
    CHECK(StoreSpec::Parse(bad).status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("open_store checks its arguments", "[comm][store]") {
  CHECK(open_store(StoreSpec{}, "p").status().code() == StatusCode::kInvalidArgument);
  CHECK(open_store(StoreSpec::InProcess(nullptr), "p").status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(open_store(StoreSpec::InProcess(std::make_shared<InProcessStore>()), "").status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(open_store(StoreSpec::File("/proc/version/x"), "p").status().code() ==
        StatusCode::kIoError);
  // Nothing listens on port 1: refused at once, reported, not thrown.
  CHECK(open_store(StoreSpec::Redis("127.0.0.1", 1), "p").status().code() ==
        StatusCode::kUnavailable);
  auto ok = open_store(StoreSpec::InProcess(std::make_shared<InProcessStore>()), "p");
  CHECK(ok.ok());
}

}  // namespace ringlm
