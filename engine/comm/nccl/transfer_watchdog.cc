#include "comm/nccl/transfer_watchdog.h"

#include <system_error>
#include <utility>

namespace ringlm {

TransferWatchdog::TransferWatchdog(int device, std::function<std::chrono::milliseconds()> timeout,
                                   std::function<void(cudaError_t)> on_failure,
                                   std::function<bool()> give_up)
    : device_(device),
      timeout_(std::move(timeout)),
      on_failure_(std::move(on_failure)),
      give_up_(std::move(give_up)) {}

TransferWatchdog::~TransferWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool TransferWatchdog::ensure_thread_locked() {
  if (stop_) return false;
  if (thread_.joinable()) return true;
  try {
    thread_ = std::thread([this] { loop(); });
  } catch (const std::system_error&) {
    return false;
  }
  return true;
}

bool TransferWatchdog::watch(cudaEvent_t start, cudaEvent_t end) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failed_ || !ensure_thread_locked()) return false;
  watched_.push_back({start, end, false, Clock::time_point{}});
  cv_.notify_all();
  return true;
}

void TransferWatchdog::unwatch(cudaEvent_t end) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < watched_.size(); ++i) {
    if (watched_[i].end == end) {
      watched_[i] = watched_.back();
      watched_.pop_back();
      return;
    }
  }
}

bool TransferWatchdog::post(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ensure_thread_locked()) return false;
  posted_.push_back(std::move(fn));
  cv_.notify_all();
  return true;
}

bool TransferWatchdog::poll_locked(Clock::time_point now, cudaError_t* error) {
  *error = cudaSuccess;
  for (size_t i = 0; i < watched_.size();) {
    Watched& w = watched_[i];
    cudaError_t e = cudaEventQuery(w.end);
    if (e == cudaSuccess) {
      watched_[i] = watched_.back();
      watched_.pop_back();
      continue;
    }
    if (e == cudaErrorNotReady) (void)cudaGetLastError();  // not an error: clear it
    if (e == cudaErrorNotReady && !w.started) {
      e = cudaEventQuery(w.start);
      if (e == cudaErrorNotReady) (void)cudaGetLastError();
      if (e == cudaSuccess) {
        w.started = true;
        w.deadline = now + timeout_();
        e = cudaErrorNotReady;
      }
    }
    if (e != cudaErrorNotReady) {
      (void)cudaGetLastError();
      *error = e;
      return false;
    }
    if (w.started && w.deadline <= now) return false;
    ++i;
  }
  return true;
}

void TransferWatchdog::loop() {
  (void)cudaSetDevice(device_);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (!posted_.empty()) {
      auto fns = std::move(posted_);
      posted_.clear();
      lock.unlock();
      for (auto& fn : fns) fn();
      lock.lock();
      continue;
    }
    if (watched_.empty()) {
      cv_.wait(lock);
      continue;
    }
    cudaError_t error = cudaSuccess;
    if ((give_up_ && give_up_()) || !poll_locked(Clock::now(), &error)) {
      watched_.clear();
      failed_ = true;
      lock.unlock();
      on_failure_(error);
      lock.lock();
      continue;
    }
    cv_.wait_for(lock, kPoll);
  }
}

}  // namespace ringlm
