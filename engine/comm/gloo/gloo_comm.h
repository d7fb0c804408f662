// GlooComm: Comm over Gloo's TCP transport, host memory.
//
// Connecting. Every rank calls GlooComm::Connect with the same size, store and
// key_prefix and its own rank. The ranks publish their addresses in the store,
// then open one TCP connection per pair of ranks (a full mesh). size == 1
// returns a SelfComm without touching the store.
//
// Operations (P2pComm, comm/p2p_comm.h). ring_exchange posts an asynchronous
// send to next() and receive from prev() and returns at once; the collectives
// are blocking and built from pairwise sends/receives posted all at once (no
// ordering deadlock). Every
// operation's deadline is timeout() from the moment it is called (for
// ring_exchange: from the call, not from wait()). Message sizes must match on
// both ends (programmer error otherwise). Gloo copies nothing: buffers are
// read/written in place until the operation (or its request's wait()) returns.
//
// Errors. kDeadlineExceeded: the deadline passed; kUnavailable: a peer's
// connection closed or reset (process died, peer aborted, peer failed or
// destroyed its GlooComm); kCancelled: this endpoint was aborted;
// kInvalidArgument: bad arguments (nothing was sent, and this endpoint is
// still usable; peers already inside the same collective wait for it until
// their deadline). Any other error is sticky: Gloo closes all of a context's
// connections when a wait times out, so after an error every later call
// returns kUnavailable (kCancelled after abort()). Rebuild the group with a
// new Connect. A dead peer process (its sockets reset or close) fails every
// pending operation at once, also a message half way through the socket
// (Gloo itself only signals the messages queued behind it; a watchdog thread
// covers the rest, see gloo_transfer.h). A message that completed before the
// failure still reports success, so peers that destroy their GlooComm right
// after a last collective do not fail the others' copy of it. When one of its
// own operations fails, this endpoint closes its connections, so its peers
// fail at once instead of waiting out their deadlines. A peer host that
// vanishes without closing its sockets is caught by the deadline.
//
// abort() wakes every pending wait of this endpoint (they return kCancelled),
// hard-closes every connection (SO_LINGER 0, so peers see a reset and fail
// with kUnavailable at once) and fails every later call. Any thread.
//
// Signals. Writing to a connection whose peer died raises SIGPIPE; Connect sets
// SIGPIPE to SIG_IGN if it is at its default (terminate) disposition, once per
// process, and leaves a disposition the host installed alone.
//
// Threads: one rank thread at a time per GlooComm (abort() from any thread);
// different GlooComms (e.g. N rank threads of one process) are independent.
// Gloo runs one I/O thread per endpoint, GlooComm one watchdog thread that
// sleeps until a connection fails.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "comm/gloo/gloo_store.h"
#include "comm/p2p_comm.h"

namespace ringlm {

class GlooGroup;

struct GlooOptions {
  int rank = 0;
  int size = 1;
  // Deadline of every operation.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  // Bounds each rendezvous wait (a rank that never arrives) and each TCP
  // connect (Gloo allows a connect up to 5x this once the peer's address is known).
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(60);
  // Address (or host name) this rank binds and advertises to its peers.
  // Loopback by default, for ranks in one host; set it to an address the
  // other hosts can reach for a multi-host group.
  std::string hostname = "127.0.0.1";
  // Network interface to bind instead (e.g. "eth0"); wins over hostname when set.
  std::string iface;
  StoreSpec store;
  // Prefix of every store key: one per group that shares a store.
  std::string key_prefix = "ringlm";
};

class GlooComm final : public P2pComm {
 public:
  // Rendezvous and full-mesh connect, bounded by options.connect_timeout.
  // kInvalidArgument: bad rank/size/timeouts or store spec; kDeadlineExceeded:
  // a rank did not show up in time; kUnavailable: the store or a peer could
  // not be reached (or the store already holds this prefix's keys); kIoError:
  // the file store directory cannot be created.
  static Result<std::unique_ptr<Comm>> Connect(const GlooOptions& options);

  ~GlooComm() override;

  void abort() override;
  bool failed() const override;
  // Payload bytes of completed sends to other ranks (self copies not counted).
  uint64_t bytes_sent() const override;

 protected:
  std::unique_ptr<P2pTransfer> new_transfer(Clock::time_point deadline) override;
  Status check_usable() override;

 private:
  GlooComm(std::shared_ptr<GlooGroup> group, std::chrono::milliseconds timeout);

  std::shared_ptr<GlooGroup> group_;
};

}  // namespace ringlm
