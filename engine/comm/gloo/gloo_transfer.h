// Internals of GlooComm: the state a group endpoint shares with its pending
// requests (GlooGroup), and one batch of point-to-point transfers over Gloo
// unbound buffers (GlooTransfer). Not part of the Comm contract.
//
// Failure model. Gloo closes every connection of a context when one wait
// times out, so an endpoint cannot go on after any transport error. The first
// error (timeout, lost peer, abort) is therefore sticky: GlooGroup records it,
// wakes every pending wait, and every later operation fails. A transfer that
// fails also hard-closes all connections, so peers blocked on this rank fail
// at once instead of waiting out their deadlines, and no stale receive stays
// posted on a live connection. The watchdog's notice of a lost peer alone
// does not close (every rank of the full mesh sees that peer's connection
// itself), so messages this rank completed still reach live peers. A group
// is rebuilt by connecting a new one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "comm/p2p_comm.h"
#include "core/status.h"

namespace gloo {
class Context;
namespace transport {
class UnboundBuffer;
}  // namespace transport
}  // namespace gloo

namespace ringlm {

class GlooTransfer;

// Call inside a catch block: converts the exception in flight into a Status.
// Gloo timeouts become kDeadlineExceeded, other Gloo I/O errors (connection
// closed or reset, peer gone) kUnavailable, anything else kInternal.
// `context` prefixes the message.
Status status_from_current_exception(const std::string& context);

using Clock = std::chrono::steady_clock;

class GlooGroup {
 public:
  // Starts the group's watchdog thread. Throws what Gloo throws (Connect
  // converts it).
  explicit GlooGroup(std::shared_ptr<gloo::Context> context);
  ~GlooGroup();
  GlooGroup(const GlooGroup&) = delete;
  GlooGroup& operator=(const GlooGroup&) = delete;

  gloo::Context& context() { return *context_; }
  int rank() const;
  int size() const;

  // OK while the group is usable; else kCancelled after abort(), or
  // kUnavailable quoting the first failure.
  Status check_usable();
  // The first failure itself (OK if none).
  Status failure();

  // Records `status` as the group's failure if it is the first, wakes every
  // pending wait (they return the failure, unless their message had already
  // completed), hard-closes every connection if `close`, and returns `status`.
  Status fail(Status status, bool close);

  // Records kCancelled as the failure, wakes every pending wait and closes
  // every connection. Any thread; idempotent.
  void abort();

  // Registers a started transfer so fail()/abort() and the watchdog can wake
  // it; false (and not registered) once the group has failed.
  bool register_transfer(GlooTransfer* t);
  void unregister_transfer(GlooTransfer* t);

  void add_bytes_sent(uint64_t n) { bytes_sent_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t bytes_sent() const { return bytes_sent_.load(std::memory_order_relaxed); }

 private:
  // Gloo signals a dead connection only to the messages queued on it, not to
  // a send already being written nor to the receive being read at that
  // moment: those would sleep until their deadline. So the group keeps a
  // one-byte receive posted from every peer on a slot nobody sends on (the
  // sentinel); Gloo signals it whenever a connection fails, and the watchdog
  // thread, blocked waiting on it, then fails the group, which wakes every
  // pending wait at once.
  void watchdog_loop();
  void wake_pending_locked();
  void close_connections();

  std::shared_ptr<gloo::Context> context_;
  std::vector<uint8_t> sentinel_bytes_;                       // one per rank
  std::unique_ptr<gloo::transport::UnboundBuffer> sentinel_;  // see watchdog_loop
  std::atomic<uint64_t> bytes_sent_{0};
  std::atomic<bool> closed_{false};

  std::mutex mu_;
  bool aborted_ = false;                       // guarded by mu_
  Status failure_;                             // guarded by mu_
  std::unordered_set<GlooTransfer*> pending_;  // guarded by mu_
  std::thread watchdog_;
};

// One batch of sends and receives posted together and waited together, with
// one deadline. Used by one thread (abort() aside, which goes through the
// group). Destroying a started, unwaited transfer waits for it first, so user
// buffers are never touched after the destructor returns.
class GlooTransfer final : public P2pTransfer {
 public:
  GlooTransfer(std::shared_ptr<GlooGroup> group, Clock::time_point deadline);
  ~GlooTransfer() override;
  GlooTransfer(const GlooTransfer&) = delete;
  GlooTransfer& operator=(const GlooTransfer&) = delete;

  // Queue one message (bytes > 0) to / from `peer`; posted by start().
  void add_send(int peer, const void* data, size_t bytes) override;
  void add_recv(int peer, void* data, size_t bytes) override;
  bool empty() const { return ops_.empty(); }

  // Posts every queued message on Gloo slot `slot`. On error the group has
  // failed and wait() returns the same status.
  Status start(uint64_t slot) override;

  // Waits for every message until the deadline. kDeadlineExceeded when it
  // passes, kUnavailable when a peer's connection drops, kCancelled after
  // abort(). A second call returns the first result.
  Status wait() override;

  // Called by GlooGroup with the group mutex held.
  void abort_waits();

 private:
  struct Op {
    bool send = false;
    int peer = -1;
    void* data = nullptr;
    size_t bytes = 0;
    std::unique_ptr<gloo::transport::UnboundBuffer> buf;
  };

  Status finish(Status status);
  Status wait_one(Op& op);

  std::shared_ptr<GlooGroup> group_;
  Clock::time_point deadline_;
  uint64_t slot_ = 0;
  std::vector<Op> ops_;
  bool started_ = false;
  bool registered_ = false;
  bool done_ = false;
  Status result_;
};

}  // namespace ringlm
