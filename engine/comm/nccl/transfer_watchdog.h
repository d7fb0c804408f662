// TransferWatchdog: a thread that holds the deadlines of transfers nobody
// waits for on the host.
//
// A transfer is a pair of CUDA events recorded on a comm stream around it:
// `start` completes when the stream reaches the transfer (after whatever the
// stream waited for first, e.g. the compute that produces the send buffer),
// `end` when the transfer is done. The deadline of a watched transfer counts
// from the moment the watchdog sees `start` complete, so a transfer queued
// far ahead of the device never expires for waiting its turn; it expires
// when it has run for timeout() without `end` completing.
//
// When a watched transfer expires, or a query of its events fails (a device
// error), or give_up() (optional) returns true while transfers are watched,
// the watchdog forgets every watched transfer and calls on_failure(error)
// once on its own thread: error is cudaSuccess for an expiry or a give-up,
// the CUDA error otherwise. on_failure and give_up must not call back into
// the watchdog; give_up runs on the watchdog's thread with its mutex held,
// every kPoll while transfers are watched.
//
// Cost: the thread starts with the first watch() or post(); it polls the
// events of unfinished transfers every kPoll and sleeps while there are none.
//
// Thread-safety: every method may be called from any thread. The destructor
// stops and joins the thread; it must not run on the watchdog thread.
#pragma once

#include <cuda_runtime_api.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ringlm {

class TransferWatchdog {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kPoll{5};

  TransferWatchdog(int device, std::function<std::chrono::milliseconds()> timeout,
                   std::function<void(cudaError_t)> on_failure,
                   std::function<bool()> give_up = {});
  ~TransferWatchdog();
  TransferWatchdog(const TransferWatchdog&) = delete;
  TransferWatchdog& operator=(const TransferWatchdog&) = delete;

  // Watches the transfer between `start` and `end`; false when no thread can
  // run (the caller then has no deadline but its own). The events must stay
  // valid until unwatch(end) returned.
  bool watch(cudaEvent_t start, cudaEvent_t end);
  // Stops watching (a no-op for a transfer already forgotten).
  void unwatch(cudaEvent_t end);
  // Runs fn on the watchdog thread soon; false when no thread can run.
  bool post(std::function<void()> fn);

 private:
  struct Watched {
    cudaEvent_t start, end;
    bool started = false;
    Clock::time_point deadline;
  };

  // With mu_ held: starts the thread once; false when it cannot.
  bool ensure_thread_locked();
  void loop();
  // With mu_ held: drops finished transfers and dates the ones that started.
  // False when one expired (*error = cudaSuccess) or a query failed (*error).
  bool poll_locked(Clock::time_point now, cudaError_t* error);

  const int device_;
  const std::function<std::chrono::milliseconds()> timeout_;
  const std::function<void(cudaError_t)> on_failure_;
  const std::function<bool()> give_up_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Watched> watched_;
  std::vector<std::function<void()>> posted_;
  bool stop_ = false;
  bool failed_ = false;  // on_failure ran: it runs once
  std::thread thread_;
};

}  // namespace ringlm
