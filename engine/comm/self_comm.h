// SelfComm: the Comm of a group of one (world_size = 1).
//
// Nothing crosses a wire: ring_exchange and the collectives copy the send
// buffer into the receive buffer (memmove, so the two may alias), broadcast and
// barrier return at once, and bytes_sent() stays 0. Arguments are checked as a
// real Comm checks them, so code that runs on SelfComm runs unchanged on N
// ranks. Host memory only.
//
// Thread-safety: as Comm (one rank thread; abort() from any thread). After
// abort() every call returns kCancelled.
#pragma once

#include <atomic>
#include <chrono>

#include "comm/comm.h"

namespace ringlm {

class SelfComm final : public Comm {
 public:
  explicit SelfComm(std::chrono::milliseconds timeout = std::chrono::seconds(60))
      : timeout_ms_(timeout.count()) {}

  int rank() const override { return 0; }
  int size() const override { return 1; }

  void set_timeout(std::chrono::milliseconds timeout) override { timeout_ms_ = timeout.count(); }
  std::chrono::milliseconds timeout() const override {
    return std::chrono::milliseconds(timeout_ms_.load());
  }

  // Copies `bytes` from send to recv; the returned request is already done.
  Result<std::unique_ptr<CommRequest>> ring_exchange(const void* send, void* recv, size_t bytes,
                                                     uint32_t tag) override;
  Status all_to_all(const void* send, void* recv, size_t bytes_per_rank) override;
  // send_bytes and recv_bytes must both be {n}.
  Status all_to_allv(const void* send, const std::vector<size_t>& send_bytes, void* recv,
                     const std::vector<size_t>& recv_bytes) override;
  Status all_gather(const void* send, void* recv, size_t bytes_per_rank) override;
  // root must be 0; the buffer is left as it is.
  Status broadcast(void* buf, size_t bytes, int root) override;
  Status barrier() override;

  void abort() override { aborted_ = true; }
  bool failed() const override { return aborted_; }
  uint64_t bytes_sent() const override { return 0; }

 private:
  Status check_alive() const;

  std::atomic<int64_t> timeout_ms_;
  std::atomic<bool> aborted_{false};
};

}  // namespace ringlm
