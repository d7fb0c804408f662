// Child processes for the process-level comm tests: spawn, wait with a
// deadline, kill. Every Child still running when destroyed is SIGKILLed and
// reaped, so a failing test leaves no stray process behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ringlm::proc {

struct ExitInfo {
  bool signaled = false;  // killed by a signal (then `signal` is set)
  int code = -1;          // exit code when !signaled
  int signal = 0;
  std::string ToString() const;
};

class Child {
 public:
  Child() = default;
  ~Child();
  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Starts argv[0] (a path, or a name looked up in PATH) with argv.
  // Returns false (and sets *error) when it cannot be started.
  bool start(const std::vector<std::string>& argv, std::string* error);

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !exit_.has_value(); }

  // Waits up to `timeout` for the child to exit; nullopt if it is still running.
  std::optional<ExitInfo> wait_for(std::chrono::milliseconds timeout);
  void kill(int sig);
  // SIGTERM, then SIGKILL after `grace`; reaps.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

 private:
  pid_t pid_ = -1;
  std::optional<ExitInfo> exit_;
};

// Full path of `name` in PATH, or "" when absent.
std::string find_in_path(const std::string& name);

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_loopback_port();

// True once a TCP connect to 127.0.0.1:port succeeds within `timeout`.
bool wait_for_port(int port, std::chrono::milliseconds timeout);

// Waits until every path exists; false on timeout.
bool wait_for_files(const std::vector<std::string>& paths, std::chrono::milliseconds timeout);

}  // namespace ringlm::proc
