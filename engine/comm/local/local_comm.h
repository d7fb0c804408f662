// LocalComm: the Comm of ranks that live in one process (a rank thread each),
// through shared memory: a message is one memcpy from the sender's buffer
// into the receiver's, made by whichever of the two posts second.
//
// Why not Gloo over loopback TCP for these ranks: every message then crosses
// the kernel twice and goes through Gloo's I/O thread (one per endpoint),
// whose event loop spins while a rank thread holds the connection's lock. On
// a machine whose cores run the ranks' compute, the spinning I/O threads
// take those cores: CP decode (an 80-byte all-gather per layer) ran three
// times slower than one rank. LocalComm has no thread of its own; a rank
// waits on a condition variable.
//
// Creating: LocalComm::Group(size, timeout) makes the size endpoints of one
// group at once (no rendezvous, no store); endpoint r goes to rank r's thread.
// size == 1 gives a SelfComm.
//
// Operations and their contract are P2pComm's (comm/p2p_comm.h) and Comm's:
// every operation's deadline is timeout() from the call; buffers are read
// and written in place until the operation (or its request's wait())
// returns; message sizes must match on both ends (a mismatch fails the group
// with kInternal).
//
// Errors: kDeadlineExceeded: this rank's deadline passed; kUnavailable: the
// group failed elsewhere (a peer's deadline, a peer aborted or was
// destroyed); kCancelled: this endpoint was aborted; kInvalidArgument: bad
// arguments (nothing was posted, this endpoint is still usable). Every other
// error is sticky for the whole group, as with GlooComm: the failure wakes
// every pending wait at once, and every later call fails. A message that
// completed before the failure still reports success. Destroying an endpoint
// (its rank left) fails the group for the others: failed() turns true and
// their pending and later operations return kUnavailable.
//
// Threads: one rank thread at a time per endpoint; abort() and failed()
// from any thread; different endpoints of one group run concurrently.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "comm/p2p_comm.h"

namespace ringlm {

class LocalHub;

class LocalComm final : public P2pComm {
 public:
  // The size endpoints of one group (endpoint r is rank r). kInvalidArgument
  // for size < 1 or a non-positive timeout.
  static Result<std::vector<std::unique_ptr<Comm>>> Group(int size,
                                                         std::chrono::milliseconds timeout);

  // Leaves the group: peers waiting for this rank fail at once.
  ~LocalComm() override;

  void abort() override;
  bool failed() const override;
  // Payload bytes of completed sends to other ranks.
  uint64_t bytes_sent() const override;

 protected:
  std::unique_ptr<P2pTransfer> new_transfer(Clock::time_point deadline) override;
  Status check_usable() override;

 private:
  LocalComm(std::shared_ptr<LocalHub> hub, int rank, int size, std::chrono::milliseconds timeout);

  std::shared_ptr<LocalHub> hub_;
};

}  // namespace ringlm
