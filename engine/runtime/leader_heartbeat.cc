#include "runtime/leader_heartbeat.h"

namespace ringlm {

LeaderHeartbeat::LeaderHeartbeat(RankExecutor& leader, std::chrono::milliseconds interval)
    : leader_(leader), interval_(interval), thread_([this] { run(); }) {}

LeaderHeartbeat::~LeaderHeartbeat() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Status LeaderHeartbeat::status() const {
  std::lock_guard<std::mutex> l(mu_);
  return status_;
}

void LeaderHeartbeat::run() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    // Checks twice per interval and sends after half an interval without a
    // plan: the leader is never silent for much more than one interval.
    if (cv_.wait_for(l, interval_ / 2, [this] { return stop_; })) return;
    l.unlock();
    Status st;
    try {
      st = leader_.heartbeat(interval_ / 2);
    } catch (...) {  // must not leave the thread
      st = current_exception_status();
    }
    l.lock();
    if (!st.ok()) {
      // The group is broken; the next step reports it. Nothing more to send.
      status_ = st;
      return;
    }
  }
}

}  // namespace ringlm
