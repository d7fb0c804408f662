// NcclComm: the Comm of a group of GPUs, over NCCL (device memory).
//
// Creation: NcclComm::Create(bootstrap, device, timeout) is called by every
// rank of `bootstrap` (any host Comm, e.g. a GlooComm over the same store)
// with its own CUDA device. Rank 0 makes the ncclUniqueId and broadcast()s it
// through the bootstrap; the communicator is created non-blocking
// (ncclCommInitRankConfig with blocking = 0) so that a rank that never shows
// up costs a deadline, not a hang. Ranks and size are the bootstrap's.
//
// Stream / event model:
//  - All transfers run on the comm's own stream (non-blocking, on `device`).
//  - With a compute stream set (set_compute_stream(cuda_backend_stream(b))),
//    every operation first records an event on that stream and makes the comm
//    stream wait for it on the device: send buffers that queued kernels are
//    still producing are read only once produced, without a host wait.
//    Without one, the caller makes the buffers ready (Backend::synchronize()).
//  - ring_exchange() returns once the send/recv pair is enqueued (an
//    ncclGroupStart / ncclSend(next) / ncclRecv(prev) / ncclGroupEnd group)
//    between two events, and hands the exchange to the comm's watchdog
//    (transfer_watchdog.h). The watchdog holds every exchange's deadline:
//    timeout() from the moment the comm stream reaches the transfer (its
//    start event completes), so an exchange queued behind compute never
//    expires for waiting its turn. A transfer past its deadline (or a device
//    error seen on its events) aborts the communicator from the watchdog's
//    thread, which ends the transfer's kernels and so releases every stream
//    and host synchronisation behind it; calls from then on return
//    kDeadlineExceeded (kUnavailable for a device error). Without a
//    watchdog thread (it could not start) an exchange's deadline is
//    timeout() from its start on the host, held by wait().
//    timeout() must exceed the longest time a peer may lag behind this rank
//    between two exchanges (a step's compute skew), or a healthy exchange
//    waiting for a slow peer expires; the engine's default is 60 s.
//  - CommRequest::wait() polls the end event and ncclCommGetAsyncError until
//    the transfer completed, an error shows, or the watchdog aborted (a
//    watched exchange that has not even started after 4 timeouts from the
//    call also ends the wait, with kDeadlineExceeded). After
//    an OK wait() the received bytes are in place for every stream and the
//    send buffer may be reused. Until then neither buffer may be touched, and
//    the compute stream must not write the receive buffer.
//  - CommRequest::wait_on_device() (with a compute stream set and the
//    exchange watched) instead makes the compute stream wait for the end
//    event (cudaStreamWaitEvent) and returns at once: the ring queues its
//    next step without the host waiting for the transfer. The host still
//    calls wait() on every request (the ring does so after its last step).
//  - Each exchange is timed by two events on the comm stream around its
//    group (CommRequest::device_ms()).
//  - all_to_all(v), all_gather, broadcast and barrier (a 4-byte all_gather)
//    block the same way: they return after the transfer completed.
//  - NCCL matches point-to-point operations by issue order, not by tag:
//    matching exchanges must be issued in the same order on neighbouring
//    ranks (the ring does); `tag` is checked (< 2^16) and otherwise unused.
//
// Failure: a deadline that passes gives kDeadlineExceeded, an asynchronous
// NCCL error (a peer lost, a network failure) or a CUDA error gives
// kUnavailable; either way the communicator is aborted (ncclCommAbort) and
// every later call returns kUnavailable (kDeadlineExceeded after the
// watchdog's abort for a deadline).
// A peer that fails or aborts does not tell NCCL: ncclCommAbort only stops
// this rank's own kernels, and its peers' transfers would wait for their
// deadlines. So Create takes `peer_lost`, a test of the control plane over
// the same ranks (the bootstrap GlooComm's failed(), which turns true as soon
// as a peer's connection drops or this rank's own control operation fails):
// host waits poll it, and the watchdog polls it while exchanges are in
// flight (also when the rank thread is blocked on the device behind one);
// once it is true the communicator is aborted and calls return kUnavailable
// ("a peer left"). abort() from another thread makes the
// operation in progress, if any, return kCancelled within a poll interval
// (about 100 us), and later calls return kUnavailable; when an operation
// that does not poll holds the communicator at that moment, the watchdog's
// thread finishes the abort as soon as it is released.
//
// Thread-safety: one rank thread at a time (as every Comm); abort() from any
// thread. The mutex mu_ guards the NCCL communicator against abort() and the
// watchdog racing with an operation; the watchdog's own mutex may be taken
// under mu_, never the reverse. Requests must not outlive their NcclComm.
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

#include "comm/comm.h"
#include "comm/nccl/transfer_watchdog.h"

namespace ringlm {

class NcclComm final : public Comm {
 public:
  // Collective over `bootstrap`: every rank calls it with its own device.
  // kUnavailable / kDeadlineExceeded when initialisation fails or times out;
  // kUnsupported when NCCL refuses the layout (e.g. two ranks of one
  // communicator on the same GPU); bootstrap errors are passed through.
  // The result is an NcclComm (static_cast it to reach set_compute_stream()).
  // `peer_lost` (optional, see Failure above) must stay callable for the
  // NcclComm's lifetime, from any thread.
  static Result<std::unique_ptr<Comm>> Create(Comm& bootstrap, int cuda_device,
                                              std::chrono::milliseconds timeout,
                                              std::function<bool()> peer_lost = {});

  ~NcclComm() override;
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void set_timeout(std::chrono::milliseconds timeout) override { timeout_ms_ = timeout.count(); }
  std::chrono::milliseconds timeout() const override {
    return std::chrono::milliseconds(timeout_ms_.load());
  }
  bool device_memory() const override { return true; }
  // With a compute stream set: transfers wait for it, and wait_on_device()
  // makes it wait for them.
  bool stream_ordered() const override { return compute_ != nullptr; }
  int device() const { return device_; }

  // The stream whose queued work every later operation waits for (device
  // side) before reading its buffers; nullptr for none. Must belong to the
  // comm's device and outlive its use here.
  void set_compute_stream(cudaStream_t stream) { compute_ = stream; }
  cudaStream_t stream() const { return stream_; }

  Result<std::unique_ptr<CommRequest>> ring_exchange(const void* send, void* recv, size_t bytes,
                                                     uint32_t tag) override;
  Status all_to_all(const void* send, void* recv, size_t bytes_per_rank) override;
  Status all_to_allv(const void* send, const std::vector<size_t>& send_bytes, void* recv,
                     const std::vector<size_t>& recv_bytes) override;
  Status all_gather(const void* send, void* recv, size_t bytes_per_rank) override;
  Status broadcast(void* buf, size_t bytes, int root) override;
  Status barrier() override;

  // Any thread, but not concurrently with the destructor.
  void abort() override;
  uint64_t bytes_sent() const override { return bytes_sent_.load(); }

 private:
  class Request;
  using Clock = std::chrono::steady_clock;
  // A host wait() on a watched exchange gives up after this many timeouts
  // (kDeadlineExceeded, the communicator aborted) even if the transfer
  // never started.
  static constexpr int kWatchedWaitLimit = 4;

  NcclComm(int rank, int size, int device, std::chrono::milliseconds timeout,
           std::function<bool()> peer_lost);

  Clock::time_point deadline() const { return Clock::now() + timeout(); }
  // With mu_ held: fails if aborted, makes the device current and orders the
  // comm stream after the compute stream.
  Status begin_locked();
  // With mu_ held: ncclGroupEnd, then (non-blocking comm) waits until NCCL
  // has enqueued the group on the stream.
  Status group_end_locked(Clock::time_point deadline);
  // With mu_ held: waits for the work enqueued so far on the comm stream (or
  // for `event`, when given) to complete, watching errors and the deadline.
  Status wait_locked(cudaEvent_t event, Clock::time_point deadline);
  // With mu_ held: makes the compute stream wait (device side) for `event`.
  Status order_compute_locked(cudaEvent_t event);
  // Records an event after the work enqueued so far and waits for it.
  Status finish_locked(Clock::time_point deadline);
  // Polls ncclCommGetAsyncError until the communicator leaves ncclInProgress.
  Status wait_ready_locked(Clock::time_point deadline, const char* what);
  // With mu_ held: the status of every call once the communicator is dead.
  Status dead_status_locked() const;
  // Aborts as soon as no operation holds mu_ (retrying every millisecond).
  void abort_when_free();
  // The watchdog's failure: a transfer past its deadline (cudaSuccess) or a
  // device error; aborts the communicator.
  void abort_from_watchdog(cudaError_t error);
  bool watchdog_failed() const { return timed_out_ || device_error_ != 0 || peer_lost_seen_; }
  // True once peer_lost_ said so (then for good). Any thread.
  bool peer_lost_now();
  // Aborts the communicator (idempotent) and returns `st`.
  Status fail_locked(Status st);
  void abort_locked();

  const int rank_, size_, device_;
  std::atomic<int64_t> timeout_ms_;
  std::atomic<uint64_t> bytes_sent_{0};
  std::atomic<bool> abort_requested_{false};
  std::atomic<bool> timed_out_{false};  // the watchdog aborted for a missed deadline
  std::atomic<int> device_error_{0};     // the watchdog aborted for this cudaError_t
  const std::function<bool()> peer_lost_;
  std::atomic<bool> peer_lost_seen_{false};  // peer_lost_ returned true
  // Watches every exchange (see above); made in the constructor, reset first
  // in the destructor.
  std::unique_ptr<TransferWatchdog> watchdog_;

  std::mutex mu_;  // guards every field below against abort() from other threads
  ncclComm_t comm_ = nullptr;  // nullptr once aborted or never made
  bool dead_ = false;          // aborted: every call fails
  cudaStream_t stream_ = nullptr;
  cudaStream_t compute_ = nullptr;
  cudaEvent_t compute_ready_ = nullptr;
  cudaEvent_t done_ = nullptr;  // completion of the last blocking operation
  int32_t* barrier_buf_ = nullptr;  // device [1 + size]
};

}  // namespace ringlm
