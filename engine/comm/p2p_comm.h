// P2pComm: the Comm operations built from one primitive, a batch of
// point-to-point messages posted together and waited together (P2pTransfer).
//
// GlooComm (TCP, ranks in any process) and LocalComm (ranks of one process,
// through shared memory) supply the transfer; the message layout of every
// collective, the argument checks and the slot scheme live here once.
//
// Slots: a message is matched by (source, destination, slot). Ring exchanges
// use the slot of their tag; the collectives take consecutive slots from a
// per-endpoint counter, which agrees across ranks because every rank calls
// the collectives in the same order. A call refused with kInvalidArgument
// takes no slot, so it leaves the endpoint usable.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "comm/comm.h"

namespace ringlm {

class P2pTransfer {
 public:
  virtual ~P2pTransfer() = default;
  // Queue one message (bytes > 0) to / from `peer`; posted by start().
  virtual void add_send(int peer, const void* data, size_t bytes) = 0;
  virtual void add_recv(int peer, void* data, size_t bytes) = 0;
  // Posts every queued message on `slot`. On error the endpoint has failed
  // and wait() returns the same status.
  virtual Status start(uint64_t slot) = 0;
  // Waits for every message until the transfer's deadline. A second call
  // returns the first result. After it returns, no byte of the caller's
  // buffers is read or written.
  virtual Status wait() = 0;
};

class P2pComm : public Comm {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr uint32_t kMaxTag = 1u << 16;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void set_timeout(std::chrono::milliseconds timeout) override { timeout_ms_ = timeout.count(); }
  std::chrono::milliseconds timeout() const override {
    return std::chrono::milliseconds(timeout_ms_.load());
  }

  // bytes == 0 completes at once without communicating. Destroying the
  // request without calling wait() waits for it.
  Result<std::unique_ptr<CommRequest>> ring_exchange(const void* send, void* recv, size_t bytes,
                                                     uint32_t tag) override;
  Status all_to_all(const void* send, void* recv, size_t bytes_per_rank) override;
  // Pairs with zero bytes both ways exchange nothing.
  Status all_to_allv(const void* send, const std::vector<size_t>& send_bytes, void* recv,
                     const std::vector<size_t>& recv_bytes) override;
  Status all_gather(const void* send, void* recv, size_t bytes_per_rank) override;
  Status broadcast(void* buf, size_t bytes, int root) override;
  // Every rank exchanges a one-byte token with every other rank.
  Status barrier() override;

 protected:
  P2pComm(int rank, int size, std::chrono::milliseconds timeout);

  // A transfer whose messages must complete by `deadline`.
  virtual std::unique_ptr<P2pTransfer> new_transfer(Clock::time_point deadline) = 0;
  // OK while this endpoint is usable; its sticky failure otherwise.
  virtual Status check_usable() = 0;

 private:
  Clock::time_point deadline() const;
  uint64_t next_collective_slot();

  const int rank_;
  const int size_;
  std::atomic<int64_t> timeout_ms_;
  uint64_t collective_seq_ = 0;  // rank thread only
};

}  // namespace ringlm
