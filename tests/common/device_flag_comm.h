// DeviceFlagComm: a Comm that forwards to a host Comm (GlooComm) and says it
// moves device memory, so ring code takes its device-Comm path (no staging,
// no host synchronisation per step, transfers waited on the device) on
// machines without a second GPU or NCCL.
//
// Memory: without a stage backend the buffers are handed to the inner Comm
// as they are (a CPU backend's "device" memory is host memory). With one (a
// CUDA backend), each operation copies its send buffer to the host, runs the
// inner Comm on host copies and copies the result back into device memory;
// the copies are ordered after the backend's queued work as a device Comm's
// transfers are.
//
// Its requests count how ring code waits for them: wait_on_device() (here a
// host wait, which is what a device wait amounts to for the data) or wait()
// alone, and how many device-waited requests were not yet waited on the host
// when each exchange started.
#pragma once

#include <algorithm>
#include <memory>
#include <numeric>
#include <vector>

#include "backend/backend.h"
#include "comm/comm.h"

namespace ringlm::test {

class DeviceFlagComm final : public Comm {
 public:
  int device_waits = 0;     // wait_on_device() calls
  int host_only_waits = 0;  // requests waited by wait() without wait_on_device()
  int outstanding = 0;      // waited on the device, not yet by wait()
  int max_outstanding = 0;  // the most of those when an exchange started
  // wait_on_device() reports OK even when the transfer failed, as a device
  // wait does; the failure shows in the later wait().
  bool defer_errors = false;

  explicit DeviceFlagComm(std::unique_ptr<Comm> inner, Backend* stage = nullptr)
      : inner_(std::move(inner)), stage_(stage) {}
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  void set_timeout(std::chrono::milliseconds t) override { inner_->set_timeout(t); }
  std::chrono::milliseconds timeout() const override { return inner_->timeout(); }
  bool device_memory() const override { return true; }
  bool stream_ordered() const override { return true; }

  Result<std::unique_ptr<CommRequest>> ring_exchange(const void* send, void* recv, size_t bytes,
                                                     uint32_t tag) override {
    max_outstanding = std::max(max_outstanding, outstanding);
    auto req = std::make_unique<Request>(this, recv, bytes);
    RINGLM_ASSIGN_OR_RETURN(const void* s, req->stage_send(send));
    RINGLM_ASSIGN_OR_RETURN(req->inner, inner_->ring_exchange(s, req->recv_ptr(), bytes, tag));
    return std::unique_ptr<CommRequest>(std::move(req));
  }
  Status all_to_all(const void* send, void* recv, size_t bytes_per_rank) override {
    const size_t all = bytes_per_rank * size_t(size());
    return staged(send, all, recv, all,
                  [&](const void* s, void* r) { return inner_->all_to_all(s, r, bytes_per_rank); });
  }
  Status all_to_allv(const void* send, const std::vector<size_t>& send_bytes, void* recv,
                     const std::vector<size_t>& recv_bytes) override {
    const size_t sn = std::accumulate(send_bytes.begin(), send_bytes.end(), size_t{0});
    const size_t rn = std::accumulate(recv_bytes.begin(), recv_bytes.end(), size_t{0});
    return staged(send, sn, recv, rn, [&](const void* s, void* r) {
      return inner_->all_to_allv(s, send_bytes, r, recv_bytes);
    });
  }
  Status all_gather(const void* send, void* recv, size_t bytes_per_rank) override {
    return staged(send, bytes_per_rank, recv, bytes_per_rank * size_t(size()),
                  [&](const void* s, void* r) { return inner_->all_gather(s, r, bytes_per_rank); });
  }
  Status broadcast(void* buf, size_t bytes, int root) override {
    return staged(buf, bytes, buf, bytes, [&](const void* s, void* r) {
      if (s != r) std::copy_n(static_cast<const uint8_t*>(s), bytes, static_cast<uint8_t*>(r));
      return inner_->broadcast(r, bytes, root);
    });
  }
  Status barrier() override { return inner_->barrier(); }
  void abort() override { inner_->abort(); }
  uint64_t bytes_sent() const override { return inner_->bytes_sent(); }

 private:
  class Request final : public CommRequest {
   public:
    std::unique_ptr<CommRequest> inner;

    Request(DeviceFlagComm* comm, void* recv, size_t bytes)
        : comm_(comm), recv_(recv), bytes_(bytes) {}
    Result<const void*> stage_send(const void* send) {
      if (!comm_->stage_) return send;
      host_send_.resize(bytes_);
      host_recv_.resize(bytes_);
      RINGLM_RETURN_IF_ERROR(comm_->stage_->copy_to_host(host_send_.data(), send, bytes_));
      return static_cast<const void*>(host_send_.data());
    }
    void* recv_ptr() { return comm_->stage_ ? host_recv_.data() : recv_; }

    Status wait() override {
      if (!waited_) {
        waited_ = true;
        if (on_device_) {
          --comm_->outstanding;
        } else {
          ++comm_->host_only_waits;
        }
      }
      return complete();
    }
    Status wait_on_device() override {
      if (!on_device_ && !waited_) {
        on_device_ = true;
        ++comm_->device_waits;
        ++comm_->outstanding;
      }
      Status st = complete();
      return comm_->defer_errors ? Status::Ok() : st;
    }

   private:
    // Waits for the inner transfer and, staged, copies what arrived into
    // device memory (once).
    Status complete() {
      if (done_) return status_;
      status_ = inner->wait();
      if (status_.ok() && comm_->stage_)
        status_ = comm_->stage_->copy_from_host(recv_, host_recv_.data(), bytes_);
      done_ = true;
      return status_;
    }

    DeviceFlagComm* comm_;
    void* recv_;
    size_t bytes_;
    std::vector<uint8_t> host_send_, host_recv_;
    bool on_device_ = false, waited_ = false, done_ = false;
    Status status_;
  };

  // Runs op(send, recv) on host copies when staging, on the buffers otherwise.
  template <typename Op>
  Status staged(const void* send, size_t send_n, void* recv, size_t recv_n, const Op& op) {
    if (!stage_) return op(send, recv);
    std::vector<uint8_t> hs(send_n), hr(recv_n);
    RINGLM_RETURN_IF_ERROR(stage_->copy_to_host(hs.data(), send, send_n));
    RINGLM_RETURN_IF_ERROR(op(hs.data(), hr.data()));
    return stage_->copy_from_host(recv, hr.data(), recv_n);
  }

  std::unique_ptr<Comm> inner_;
  Backend* stage_;
};

}  // namespace ringlm::test
