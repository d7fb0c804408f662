#include "comm/nccl/nccl_comm.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>

namespace ringlm {
namespace {

std::string nccl_message(ncclComm_t comm, ncclResult_t r, const char* what) {
  std::string msg = std::string("nccl: ") + what + ": " + ncclGetErrorString(r);
  const char* last = ncclGetLastError(comm);
  if (last && *last) msg += std::string(" (") + last + ")";
  return msg;
}

std::string cuda_message(cudaError_t e, const char* what) {
  (void)cudaGetLastError();
  return std::string("nccl comm: ") + what + ": " + cudaGetErrorName(e) + ": " +
         cudaGetErrorString(e);
}

bool nccl_ok(ncclResult_t r) { return r == ncclSuccess || r == ncclInProgress; }

// Polling cadence: spin (yielding) for the first ~200 polls so short
// transfers return promptly, then sleep 100 us between polls.
void backoff(int& polls) {
  if (++polls < 200) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

}  // namespace

// A ring exchange in flight: timing events recorded before and after its
// group on the comm stream, watched by the comm's watchdog when it runs.
class NcclComm::Request final : public CommRequest {
 public:
  Request(NcclComm* comm, cudaEvent_t start, cudaEvent_t end, Clock::time_point deadline)
      : comm_(comm), start_(start), end_(end), deadline_(deadline) {}
  ~Request() override {
    if (watched_) comm_->watchdog_->unwatch(end_);  // before the events go
    if (start_) (void)cudaEventDestroy(start_);
    if (end_) (void)cudaEventDestroy(end_);
  }
  // Hands the exchange to the watchdog (after its events were recorded).
  void watch() { watched_ = comm_->watchdog_->watch(start_, end_); }

  Status wait() override {
    if (done_) return status_;
    {
      std::lock_guard<std::mutex> lock(comm_->mu_);
      // Watched: the watchdog holds the deadline (from the transfer's start
      // on the device) and aborts the communicator when it passes, which
      // ends this wait; kWatchedWaitLimit timeouts from now bound it should
      // the transfer never even start (the work queued before it on this
      // GPU never finishing). Otherwise: timeout() from the exchange's start.
      const auto limit = Clock::now() + kWatchedWaitLimit * comm_->timeout();
      status_ = comm_->wait_locked(end_, watched_ ? limit : deadline_);
    }
    done_ = true;
    if (watched_) {
      comm_->watchdog_->unwatch(end_);
      watched_ = false;
    }
    return status_;
  }
  Status wait_on_device() override {
    if (done_ || on_device_) return status_;
    {
      std::lock_guard<std::mutex> lock(comm_->mu_);
      // Without a compute stream to order, or a watchdog to hold the
      // deadline, the host waits.
      if (comm_->compute_ && watched_) {
        status_ = comm_->order_compute_locked(end_);
        if (!status_.ok()) {
          done_ = true;
          return status_;
        }
        on_device_ = true;
        return status_;
      }
    }
    return wait();
  }
  double device_ms() const override {
    if (!done_ || !status_.ok()) return -1.0;
    float ms = -1.f;
    if (cudaEventElapsedTime(&ms, start_, end_) != cudaSuccess) {
      (void)cudaGetLastError();
      return -1.0;
    }
    return ms;
  }

 private:
  NcclComm* comm_;
  cudaEvent_t start_, end_;
  Clock::time_point deadline_;
  bool watched_ = false;    // the watchdog holds end_
  bool on_device_ = false;  // the compute stream waits for end_
  bool done_ = false;       // the host saw the outcome (status_)
  Status status_;
};

NcclComm::NcclComm(int rank, int size, int device, std::chrono::milliseconds timeout,
                   std::function<bool()> peer_lost)
    : rank_(rank),
      size_(size),
      device_(device),
      timeout_ms_(timeout.count()),
      peer_lost_(std::move(peer_lost)) {
  watchdog_ = std::make_unique<TransferWatchdog>(
      device, [this] { return this->timeout(); },
      [this](cudaError_t error) { abort_from_watchdog(error); }, [this] { return peer_lost_now(); });
}

bool NcclComm::peer_lost_now() {
  if (peer_lost_seen_) return true;
  if (!peer_lost_ || !peer_lost_()) return false;
  peer_lost_seen_ = true;
  return true;
}

Result<std::unique_ptr<Comm>> NcclComm::Create(Comm& bootstrap, int cuda_device,
                                               std::chrono::milliseconds timeout,
                                               std::function<bool()> peer_lost) {
  const int rank = bootstrap.rank(), size = bootstrap.size();
  if (bootstrap.device_memory())
    return InvalidArgument("nccl comm: the bootstrap Comm must use host memory");
  // Rank 0's id travels with a flag, so a failure there fails every rank at once.
  struct Hello {
    int32_t ok;
    ncclUniqueId id;
  } hello{};
  if (rank == 0) hello.ok = ncclGetUniqueId(&hello.id) == ncclSuccess ? 1 : 0;
  RINGLM_RETURN_IF_ERROR(bootstrap.broadcast(&hello, sizeof(hello), 0).WithContext("nccl comm: id broadcast"));
  if (!hello.ok) return Unavailable("nccl comm: rank 0 could not create an NCCL id");

  std::unique_ptr<NcclComm> c(new NcclComm(rank, size, cuda_device, timeout, std::move(peer_lost)));
  std::lock_guard<std::mutex> lock(c->mu_);
  cudaError_t ce = cudaSetDevice(cuda_device);
  if (ce == cudaSuccess) ce = cudaStreamCreateWithFlags(&c->stream_, cudaStreamNonBlocking);
  if (ce == cudaSuccess) ce = cudaEventCreateWithFlags(&c->compute_ready_, cudaEventDisableTiming);
  if (ce == cudaSuccess) ce = cudaEventCreateWithFlags(&c->done_, cudaEventDisableTiming);
  if (ce == cudaSuccess) ce = cudaMalloc(reinterpret_cast<void**>(&c->barrier_buf_),
                                         sizeof(int32_t) * size_t(size + 1));
  if (ce == cudaSuccess)  // on the stream NCCL reads it from
    ce = cudaMemsetAsync(c->barrier_buf_, 0, sizeof(int32_t) * size_t(size + 1), c->stream_);
  if (ce != cudaSuccess) {
    c->dead_ = true;
    return Unavailable(cuda_message(ce, "setting up the device"));
  }

  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  const auto deadline = c->deadline();
  ncclResult_t r = ncclCommInitRankConfig(&c->comm_, size, hello.id, rank, &config);
  if (!nccl_ok(r)) {
    Status st = r == ncclInvalidUsage
                    ? Unsupported(nccl_message(c->comm_, r, "ncclCommInitRankConfig"))
                    : Unavailable(nccl_message(c->comm_, r, "ncclCommInitRankConfig"));
    return c->fail_locked(std::move(st));
  }
  Status st = c->wait_ready_locked(deadline, "communicator initialisation");
  if (!st.ok()) {
    // NCCL reports layouts it refuses (two ranks on one GPU) as invalid usage.
    if (st.message().find(ncclGetErrorString(ncclInvalidUsage)) != std::string::npos)
      return Unsupported(st.message());
    return st;
  }
  return std::unique_ptr<Comm>(std::move(c));
}

NcclComm::~NcclComm() {
  watchdog_.reset();  // joins its thread, which may be aborting under mu_
  std::lock_guard<std::mutex> lock(mu_);
  (void)cudaSetDevice(device_);
  // An abort() the watchdog had not carried out yet: abort, do not finalize.
  if (abort_requested_) abort_locked();
  if (comm_) {
    // Orderly shutdown: finalize (flushes), wait for it, destroy; abort when
    // that fails or takes longer than the timeout.
    const auto deadline = Clock::now() + timeout();
    bool clean = nccl_ok(ncclCommFinalize(comm_));
    if (clean) {
      ncclResult_t ar = ncclInProgress;
      int polls = 0;
      while (clean && ncclCommGetAsyncError(comm_, &ar) == ncclSuccess && ar == ncclInProgress) {
        if (Clock::now() > deadline) clean = false;
        backoff(polls);
      }
      clean = clean && ar == ncclSuccess;
    }
    if (clean) {
      (void)ncclCommDestroy(comm_);
      comm_ = nullptr;
    } else {
      abort_locked();
    }
  }
  if (stream_) (void)cudaStreamSynchronize(stream_);
  if (barrier_buf_) (void)cudaFree(barrier_buf_);
  if (done_) (void)cudaEventDestroy(done_);
  if (compute_ready_) (void)cudaEventDestroy(compute_ready_);
  if (stream_) (void)cudaStreamDestroy(stream_);
  (void)cudaGetLastError();
}

void NcclComm::abort() {
  abort_requested_ = true;
  // No operation in progress: abort now, which stops this rank's kernels
  // (peers learn that this rank left from their peer_lost test, the control
  // plane: NCCL does not tell them). Otherwise
  // the operation's poll loop sees the flag and aborts; an operation that
  // returns without polling (ring_exchange, wait_on_device) leaves it to the
  // watchdog, which retries until it holds mu_.
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (lock.owns_lock()) {
    abort_locked();
    return;
  }
  if (!watchdog_->post([this] { abort_when_free(); })) {
    lock.lock();  // no thread to hand it to: wait for the operation
    abort_locked();
  }
}

void NcclComm::abort_when_free() {
  for (;;) {
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (lock.owns_lock()) {
      abort_locked();
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void NcclComm::abort_from_watchdog(cudaError_t error) {
  if (error != cudaSuccess) {
    device_error_ = int(error);
  } else if (!peer_lost_seen_) {  // else the watchdog gave up: a peer left
    timed_out_ = true;
  }
  abort_requested_ = true;
  // An operation holding mu_ polls abort_requested_ and aborts itself;
  // otherwise (the rank thread blocked on the device, behind the transfer)
  // this aborts, which ends the transfer's kernels.
  abort_when_free();
}

void NcclComm::abort_locked() {
  if (comm_) {
    (void)ncclCommAbort(comm_);
    comm_ = nullptr;
  }
  dead_ = true;
}

Status NcclComm::dead_status_locked() const {
  if (timed_out_)
    return DeadlineExceeded("nccl comm: a transfer ran past its deadline of " +
                            std::to_string(timeout_ms_.load()) + " ms; the communicator was aborted");
  if (const int e = device_error_.load())
    return Unavailable(std::string("nccl comm: the device failed during a transfer: ") +
                       cudaGetErrorName(cudaError_t(e)) + ": " + cudaGetErrorString(cudaError_t(e)) +
                       "; the communicator was aborted");
  if (peer_lost_seen_)
    return Unavailable(
        "nccl comm: a peer left the group (its control connection failed); the communicator "
        "was aborted");
  return Unavailable("nccl comm: the communicator was aborted after an earlier failure");
}

Status NcclComm::fail_locked(Status st) {
  abort_locked();
  return st;
}

Status NcclComm::begin_locked() {
  if (abort_requested_) {
    abort_locked();
    return watchdog_failed() ? dead_status_locked() : Unavailable("nccl comm: aborted");
  }
  if (dead_ || !comm_) return dead_status_locked();
  cudaError_t e = cudaSetDevice(device_);
  if (e == cudaSuccess && compute_) {
    e = cudaEventRecord(compute_ready_, compute_);
    if (e == cudaSuccess) e = cudaStreamWaitEvent(stream_, compute_ready_, 0);
  }
  if (e != cudaSuccess) return fail_locked(Unavailable(cuda_message(e, "ordering after the compute stream")));
  return Status::Ok();
}

Status NcclComm::wait_ready_locked(Clock::time_point deadline, const char* what) {
  int polls = 0;
  for (;;) {
    if (abort_requested_)
      return fail_locked(watchdog_failed() ? dead_status_locked()
                                    : Cancelled(std::string("nccl comm: aborted during ") + what));
    if (peer_lost_now()) return fail_locked(dead_status_locked());
    ncclResult_t ar = ncclSuccess;
    const ncclResult_t r = ncclCommGetAsyncError(comm_, &ar);
    if (r != ncclSuccess) return fail_locked(Unavailable(nccl_message(comm_, r, what)));
    if (ar == ncclSuccess) return Status::Ok();
    if (ar != ncclInProgress) return fail_locked(Unavailable(nccl_message(comm_, ar, what)));
    if (Clock::now() > deadline)
      return fail_locked(DeadlineExceeded(std::string("nccl comm: ") + what + " missed its deadline of " +
                                          std::to_string(timeout_ms_.load()) + " ms"));
    backoff(polls);
  }
}

Status NcclComm::group_end_locked(Clock::time_point deadline) {
  const ncclResult_t r = ncclGroupEnd();
  if (!nccl_ok(r)) return fail_locked(Unavailable(nccl_message(comm_, r, "ncclGroupEnd")));
  if (r == ncclInProgress) return wait_ready_locked(deadline, "enqueueing a group");
  return Status::Ok();
}

Status NcclComm::wait_locked(cudaEvent_t event, Clock::time_point deadline) {
  if (dead_ || !comm_) return dead_status_locked();
  int polls = 0;
  for (;;) {
    if (abort_requested_)
      return fail_locked(watchdog_failed() ? dead_status_locked() : Cancelled("nccl comm: aborted while waiting"));
    if (peer_lost_now()) return fail_locked(dead_status_locked());
    const cudaError_t e = cudaEventQuery(event);
    if (e == cudaSuccess) return Status::Ok();
    if (e != cudaErrorNotReady) return fail_locked(Unavailable(cuda_message(e, "waiting for a transfer")));
    // A query of unfinished work leaves cudaErrorNotReady as this thread's
    // last error, which the next kernel launch's cudaGetLastError would report.
    (void)cudaGetLastError();
    ncclResult_t ar = ncclSuccess;
    const ncclResult_t r = ncclCommGetAsyncError(comm_, &ar);
    if (r != ncclSuccess) return fail_locked(Unavailable(nccl_message(comm_, r, "ncclCommGetAsyncError")));
    if (ar != ncclSuccess && ar != ncclInProgress)
      return fail_locked(Unavailable(nccl_message(comm_, ar, "transfer")));
    if (Clock::now() > deadline)
      return fail_locked(DeadlineExceeded("nccl comm: transfer missed its deadline of " +
                                          std::to_string(timeout_ms_.load()) + " ms"));
    backoff(polls);
  }
}

Status NcclComm::order_compute_locked(cudaEvent_t event) {
  if (abort_requested_) return fail_locked(watchdog_failed() ? dead_status_locked() : Cancelled("nccl comm: aborted"));
  if (dead_ || !comm_) return dead_status_locked();
  cudaError_t e = cudaSetDevice(device_);
  if (e == cudaSuccess) e = cudaStreamWaitEvent(compute_, event, 0);
  if (e != cudaSuccess)
    return fail_locked(Unavailable(cuda_message(e, "ordering the compute stream after a transfer")));
  return Status::Ok();
}

Status NcclComm::finish_locked(Clock::time_point deadline) {
  const cudaError_t e = cudaEventRecord(done_, stream_);
  if (e != cudaSuccess) return fail_locked(Unavailable(cuda_message(e, "cudaEventRecord")));
  return wait_locked(done_, deadline);
}

Result<std::unique_ptr<CommRequest>> NcclComm::ring_exchange(const void* send, void* recv,
                                                             size_t bytes, uint32_t tag) {
  if (tag >= (1u << 16)) return InvalidArgument("nccl comm: ring_exchange tag must be < 2^16");
  if (bytes > 0 && (!send || !recv)) return InvalidArgument("nccl comm: ring_exchange with a null buffer");
  std::lock_guard<std::mutex> lock(mu_);
  RINGLM_RETURN_IF_ERROR(begin_locked());
  const auto dl = deadline();
  cudaEvent_t start = nullptr, end = nullptr;
  cudaError_t e = cudaEventCreate(&start);
  if (e == cudaSuccess) e = cudaEventCreate(&end);
  if (e == cudaSuccess) e = cudaEventRecord(start, stream_);
  if (e != cudaSuccess) {
    if (start) (void)cudaEventDestroy(start);
    if (end) (void)cudaEventDestroy(end);
    return fail_locked(Unavailable(cuda_message(e, "recording the exchange events")));
  }
  // From here the request owns the events, whatever happens next.
  std::unique_ptr<Request> req(new Request(this, start, end, dl));
  if (bytes > 0) {
    ncclResult_t r = ncclGroupStart();
    if (nccl_ok(r)) r = ncclSend(send, bytes, ncclUint8, next(), comm_, stream_);
    if (nccl_ok(r)) r = ncclRecv(recv, bytes, ncclUint8, prev(), comm_, stream_);
    if (!nccl_ok(r)) {
      (void)ncclGroupEnd();
      return fail_locked(Unavailable(nccl_message(comm_, r, "ring exchange")));
    }
    RINGLM_RETURN_IF_ERROR(group_end_locked(dl));
    bytes_sent_ += bytes;
  }
  e = cudaEventRecord(end, stream_);
  if (e != cudaSuccess) return fail_locked(Unavailable(cuda_message(e, "recording the exchange event")));
  req->watch();
  return std::unique_ptr<CommRequest>(std::move(req));
}

Status NcclComm::all_to_all(const void* send, void* recv, size_t bytes_per_rank) {
  std::vector<size_t> sizes(size_t(size_), bytes_per_rank);
  return all_to_allv(send, sizes, recv, sizes);
}

Status NcclComm::all_to_allv(const void* send, const std::vector<size_t>& send_bytes, void* recv,
                             const std::vector<size_t>& recv_bytes) {
  if (int(send_bytes.size()) != size_ || int(recv_bytes.size()) != size_)
    return InvalidArgument("nccl comm: all_to_allv needs one size per rank");
  if (send_bytes[size_t(rank_)] != recv_bytes[size_t(rank_)])
    return InvalidArgument("nccl comm: all_to_allv sends a different size to itself than it receives");
  size_t send_total = 0, recv_total = 0;
  for (int p = 0; p < size_; ++p) {
    send_total += send_bytes[size_t(p)];
    recv_total += recv_bytes[size_t(p)];
  }
  // Refused here, the communicator stays usable; NCCL would fail (and abort) it.
  if ((send_total > 0 && !send) || (recv_total > 0 && !recv))
    return InvalidArgument("nccl comm: all_to_allv with a null buffer");
  std::lock_guard<std::mutex> lock(mu_);
  RINGLM_RETURN_IF_ERROR(begin_locked());
  const auto dl = deadline();
  const auto* s = static_cast<const unsigned char*>(send);
  auto* d = static_cast<unsigned char*>(recv);
  size_t so = 0, ro = 0, self_so = 0, self_ro = 0;
  uint64_t sent = 0;
  ncclResult_t r = ncclGroupStart();
  for (int p = 0; p < size_ && nccl_ok(r); ++p) {
    const size_t sb = send_bytes[size_t(p)], rb = recv_bytes[size_t(p)];
    if (p == rank_) {
      self_so = so;
      self_ro = ro;
    } else {
      if (sb > 0) r = ncclSend(s + so, sb, ncclUint8, p, comm_, stream_);
      if (nccl_ok(r) && rb > 0) r = ncclRecv(d + ro, rb, ncclUint8, p, comm_, stream_);
      sent += sb;
    }
    so += sb;
    ro += rb;
  }
  if (!nccl_ok(r)) {
    (void)ncclGroupEnd();
    return fail_locked(Unavailable(nccl_message(comm_, r, "all_to_allv")));
  }
  RINGLM_RETURN_IF_ERROR(group_end_locked(dl));
  const size_t self = send_bytes[size_t(rank_)];
  if (self > 0) {
    const cudaError_t e = cudaMemcpyAsync(d + self_ro, s + self_so, self, cudaMemcpyDeviceToDevice, stream_);
    if (e != cudaSuccess) return fail_locked(Unavailable(cuda_message(e, "all_to_allv self copy")));
  }
  bytes_sent_ += sent;
  return finish_locked(dl);
}

Status NcclComm::all_gather(const void* send, void* recv, size_t bytes_per_rank) {
  if (bytes_per_rank == 0) return barrier();
  if (!send || !recv) return InvalidArgument("nccl comm: all_gather with a null buffer");
  std::lock_guard<std::mutex> lock(mu_);
  RINGLM_RETURN_IF_ERROR(begin_locked());
  const auto dl = deadline();
  const ncclResult_t r = ncclAllGather(send, recv, bytes_per_rank, ncclUint8, comm_, stream_);
  if (!nccl_ok(r)) return fail_locked(Unavailable(nccl_message(comm_, r, "ncclAllGather")));
  if (r == ncclInProgress) RINGLM_RETURN_IF_ERROR(wait_ready_locked(dl, "enqueueing all_gather"));
  bytes_sent_ += bytes_per_rank * uint64_t(size_ - 1);
  return finish_locked(dl);
}

Status NcclComm::broadcast(void* buf, size_t bytes, int root) {
  if (root < 0 || root >= size_) return InvalidArgument("nccl comm: broadcast root out of range");
  if (bytes == 0) return barrier();
  if (!buf) return InvalidArgument("nccl comm: broadcast with a null buffer");
  std::lock_guard<std::mutex> lock(mu_);
  RINGLM_RETURN_IF_ERROR(begin_locked());
  const auto dl = deadline();
  const ncclResult_t r = ncclBroadcast(buf, buf, bytes, ncclUint8, root, comm_, stream_);
  if (!nccl_ok(r)) return fail_locked(Unavailable(nccl_message(comm_, r, "ncclBroadcast")));
  if (r == ncclInProgress) RINGLM_RETURN_IF_ERROR(wait_ready_locked(dl, "enqueueing broadcast"));
  if (root == rank_) bytes_sent_ += bytes * uint64_t(size_ - 1);
  return finish_locked(dl);
}

Status NcclComm::barrier() {
  std::lock_guard<std::mutex> lock(mu_);
  RINGLM_RETURN_IF_ERROR(begin_locked());
  const auto dl = deadline();
  // barrier_buf_[0] is the 4-byte contribution, [1, 1 + size) the gathered copy.
  const ncclResult_t r =
      ncclAllGather(barrier_buf_, barrier_buf_ + 1, 1, ncclInt32, comm_, stream_);
  if (!nccl_ok(r)) return fail_locked(Unavailable(nccl_message(comm_, r, "barrier")));
  if (r == ncclInProgress) RINGLM_RETURN_IF_ERROR(wait_ready_locked(dl, "enqueueing barrier"));
  return finish_locked(dl);
}

}  // namespace ringlm
