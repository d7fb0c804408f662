// LeaderHeartbeat: keeps an idle leader audible to its followers.
//
// Followers leave the group when the leader says nothing for the leader
// timeout (RankConfig::leader_timeout), so that a leader host that vanishes
// without closing its connections (power loss, a partition, a stopped
// process) does not leave its workers waiting forever. Between steps, also
// while the host application takes its time between the steps of a turn (a
// slow stream callback), this thread makes sure a plan goes out at least
// every `interval` (a Heartbeat when no step does).
//
// Threads: its own; RankExecutor::heartbeat serialises it with the steps.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/status.h"
#include "runtime/rank_executor.h"

namespace ringlm {

class LeaderHeartbeat {
 public:
  // Starts the thread; `leader` must outlive this object.
  LeaderHeartbeat(RankExecutor& leader, std::chrono::milliseconds interval);
  // Stops and joins the thread (waits for a heartbeat in flight).
  ~LeaderHeartbeat();
  LeaderHeartbeat(const LeaderHeartbeat&) = delete;
  LeaderHeartbeat& operator=(const LeaderHeartbeat&) = delete;

  // Ok, or why the heartbeats stopped (a broken group: the next step fails
  // with its own error).
  Status status() const;

 private:
  void run();

  RankExecutor& leader_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  Status status_;
  std::thread thread_;
};

}  // namespace ringlm
