// Comm: the communication interface the CP ring is written against.
//
// One Comm object is one rank's endpoint in a group of size() ranks. Ring code
// uses only next()/prev() neighbours plus the collectives below. Every
// operation has a deadline (timeout()); a peer that misses it yields
// kDeadlineExceeded, a peer whose connection drops yields kUnavailable. No
// operation blocks forever.
//
// Memory: Comms with device_memory() == false (GlooComm, SelfComm) take host
// pointers; a device Comm (NcclComm) takes device pointers of its backend.
//
// Threads: a Comm is used by one thread at a time (its rank's thread), except
// abort(), which may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/status.h"

namespace ringlm {

// A pending transfer started by Comm::ring_exchange.
class CommRequest {
 public:
  virtual ~CommRequest() = default;
  // Blocks until both the send and the receive completed or the Comm's
  // deadline passed. Calling wait() again after it returned is a no-op
  // returning the same status.
  virtual Status wait() = 0;

  // Device Comms with a compute stream (NcclComm::set_compute_stream): makes
  // that stream wait for the transfer on the device and returns without
  // waiting on the host. Work queued on the compute stream after this call
  // sees the received bytes and may overwrite the send buffer. The transfer's
  // outcome is still to be learnt: wait() must be called before the buffers
  // are freed or results computed from them are used. The deadline is then
  // the Comm's to hold with no host waiting (NcclComm: a watchdog thread,
  // timeout() from when the transfer can start on the device). Every other
  // Comm (and a device Comm that cannot hold it) waits on the host, as
  // wait() does. Errors are those of wait().
  virtual Status wait_on_device() { return wait(); }

  // Device time of the transfer in milliseconds, measured by the Comm, once
  // wait() returned OK; negative when the Comm does not measure it.
  virtual double device_ms() const { return -1.0; }
};

class Comm {
 public:
  virtual ~Comm() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  int next() const { return (rank() + 1) % size(); }
  int prev() const { return (rank() + size() - 1) % size(); }

  virtual void set_timeout(std::chrono::milliseconds timeout) = 0;
  virtual std::chrono::milliseconds timeout() const = 0;
  virtual bool device_memory() const { return false; }
  // True when transfers are ordered on the device after the work the caller
  // queued before starting them, and CommRequest::wait_on_device() orders
  // later work after the transfer (NcclComm with a compute stream): ring code
  // then needs no host synchronisation or host wait per step.
  virtual bool stream_ordered() const { return false; }

  // Starts sending `bytes` from `send` to next() and receiving `bytes` into
  // `recv` from prev(). Both buffers must stay valid and untouched until the
  // request's wait() returns. `tag` (< 2^16) tells concurrent exchanges apart;
  // matching exchanges on neighbouring ranks use the same tag. With size() == 1
  // the send buffer is copied to the receive buffer.
  virtual Result<std::unique_ptr<CommRequest>> ring_exchange(const void* send, void* recv,
                                                             size_t bytes, uint32_t tag) = 0;

  // send: size() blocks of bytes_per_rank (block r goes to rank r);
  // recv: size() blocks (block r came from rank r).
  virtual Status all_to_all(const void* send, void* recv, size_t bytes_per_rank) = 0;
  // Variable sizes: send_bytes[r] bytes go to rank r, taken contiguously from
  // `send` in rank order; recv_bytes[r] bytes arrive from rank r, stored
  // contiguously in `recv` in rank order.
  virtual Status all_to_allv(const void* send, const std::vector<size_t>& send_bytes, void* recv,
                             const std::vector<size_t>& recv_bytes) = 0;
  // recv: size() blocks of bytes_per_rank, block r from rank r.
  virtual Status all_gather(const void* send, void* recv, size_t bytes_per_rank) = 0;
  virtual Status broadcast(void* buf, size_t bytes, int root) = 0;
  virtual Status barrier() = 0;

  // Makes every pending and future operation on this endpoint fail promptly
  // (peers observe kUnavailable). Callable from any thread. Irreversible.
  virtual void abort() = 0;

  // True once this endpoint can no longer be used: an operation failed (a
  // lost peer, a missed deadline) or abort() ran here. For a GlooComm also
  // when the watchdog saw a peer's connection drop, before any operation of
  // this rank failed: another transport over the same ranks (NcclComm) polls
  // it to learn that a peer left. Callable from any thread; cheap.
  virtual bool failed() const { return false; }

  // Total payload bytes this endpoint has sent since creation.
  virtual uint64_t bytes_sent() const = 0;

  // Broadcast of a variable-length byte string from `root` (size, then payload).
  Status broadcast_bytes(std::vector<uint8_t>& data, int root);
};

}  // namespace ringlm
