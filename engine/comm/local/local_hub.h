// Internals of LocalComm: the state the endpoints of one in-process group
// share (LocalHub) and one batch of messages posted together (LocalTransfer).
// Not part of the Comm contract.
//
// Matching. A posted send waits in the hub under (source, destination, slot)
// until the receive with the same key is posted, or the other way round;
// whichever comes second takes the pair out of the hub and copies the bytes
// after releasing the hub's mutex (the two messages are marked as being
// copied, so neither owner returns, nor frees its buffer, before the copy
// ended). Messages with one key match in posting order.
//
// Failure. The first failure (a deadline, abort(), an endpoint leaving, a
// size mismatch) is recorded once for the whole group and wakes every wait;
// the transfers that did not complete take their messages back out of the
// hub and wait for copies in progress, so no buffer is touched after the
// operation returned.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "comm/p2p_comm.h"
#include "core/status.h"

namespace ringlm {

struct LocalMessage {
  enum class State { kQueued, kPosted, kCopying, kDone };
  bool send = false;
  int owner = -1;  // the posting rank
  int peer = -1;
  void* data = nullptr;  // a send's is only read
  size_t bytes = 0;
  State state = State::kQueued;
};

class LocalHub {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LocalHub(int size) : aborted_(size_t(size), false), sent_(size_t(size)) {}

  // OK while the group is usable; kCancelled for an endpoint that was
  // aborted, else kUnavailable quoting the first failure.
  Status check_usable(int rank);
  bool failed();
  // Records `status` as the group's failure if it is the first and wakes
  // every wait. Returns `status`.
  Status fail(Status status);
  void abort(int rank);
  void leave(int rank);
  uint64_t bytes_sent(int rank) const { return sent_[size_t(rank)].load(); }

 private:
  friend class LocalTransfer;
  using Key = std::tuple<int, int, uint64_t>;  // source, destination, slot

  Status check_usable_locked(int rank) const;
  // With mu_ held: posts `m` of rank `me` on `slot`; when its partner waits,
  // takes both out and appends them to *copies (send, then receive).
  Status post_locked(int me, uint64_t slot, LocalMessage* m,
                     std::vector<std::pair<LocalMessage*, LocalMessage*>>* copies);
  // With mu_ held: takes a posted message back out of the hub.
  void withdraw_locked(int me, uint64_t slot, LocalMessage* m);
  // Copies each (send, receive) pair, then marks them done; mu_ not held.
  void copy(const std::vector<std::pair<LocalMessage*, LocalMessage*>>& copies);

  std::mutex mu_;
  std::condition_variable cv_;  // any message done, any failure
  Status failure_;              // guarded by mu_
  std::vector<bool> aborted_;   // guarded by mu_
  std::map<Key, std::vector<LocalMessage*>> sends_, recvs_;  // guarded by mu_, FIFO per key
  std::vector<std::atomic<uint64_t>> sent_;
};

class LocalTransfer final : public P2pTransfer {
 public:
  LocalTransfer(std::shared_ptr<LocalHub> hub, int rank, LocalHub::Clock::time_point deadline)
      : hub_(std::move(hub)), rank_(rank), deadline_(deadline) {}
  ~LocalTransfer() override;
  LocalTransfer(const LocalTransfer&) = delete;
  LocalTransfer& operator=(const LocalTransfer&) = delete;

  void add_send(int peer, const void* data, size_t bytes) override;
  void add_recv(int peer, void* data, size_t bytes) override;
  Status start(uint64_t slot) override;
  Status wait() override;

 private:
  // With the hub's mutex held (`lock`): takes unfinished messages back out
  // of the hub and waits for copies in progress; records the result.
  Status finish_locked(std::unique_lock<std::mutex>& lock, Status status);
  bool all_done_locked() const;

  std::shared_ptr<LocalHub> hub_;
  const int rank_;
  const LocalHub::Clock::time_point deadline_;
  uint64_t slot_ = 0;
  std::vector<std::unique_ptr<LocalMessage>> messages_;
  bool started_ = false;
  bool done_ = false;
  Status result_;
};

}  // namespace ringlm
