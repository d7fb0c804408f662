// GlooComm ranks as processes rendezvousing through Redis. Starts its own
// redis-server on a free loopback port and stops it afterwards; exits 77
// (skipped) when redis-server is not on PATH.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "proc_util.h"

namespace {

using ringlm::proc::Child;
using std::chrono::milliseconds;

int run_group(int n, int port, const std::string& prefix) {
  std::vector<Child> kids(static_cast<size_t>(n));
  const std::string store = "redis://127.0.0.1:" + std::to_string(port);
  for (int r = 0; r < n; ++r) {
    std::string err;
    if (!kids[r].start(
            {RINGLM_COMM_PROC_WORKER, "--rank", std::to_string(r), "--size", std::to_string(n),
             "--store", store, "--prefix", prefix, "--mode", "data", "--timeout-ms", "20000"},
            &err)) {
      std::fprintf(stderr, "FAIL: %s\n", err.c_str());
      return 1;
    }
  }
  int failures = 0;
  for (int r = 0; r < n; ++r) {
    auto info = kids[r].wait_for(milliseconds(60000));
    if (!info) {
      std::fprintf(stderr, "FAIL: N=%d rank %d did not finish in 60 s\n", n, r);
      ++failures;
    } else if (info->signaled || info->code != 0) {
      std::fprintf(stderr, "FAIL: N=%d rank %d: %s\n", n, r, info->ToString().c_str());
      ++failures;
    }
  }
  return failures;
}

}  // namespace

int main() {
  const std::string server = ringlm::proc::find_in_path("redis-server");
  if (server.empty()) {
    std::printf("SKIPPED: redis-server is not on PATH; the Redis store test needs one\n");
    return 77;
  }
  const int port = ringlm::proc::free_loopback_port();
  if (port <= 0) {
    std::fprintf(stderr, "FAIL: no free loopback port\n");
    return 1;
  }
  Child redis;
  std::string err;
  if (!redis.start({server, "--port", std::to_string(port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"},
                   &err)) {
    std::fprintf(stderr, "FAIL: %s\n", err.c_str());
    return 1;
  }
  if (!ringlm::proc::wait_for_port(port, milliseconds(10000))) {
    std::fprintf(stderr, "FAIL: redis-server did not listen on port %d\n", port);
    redis.stop();
    return 1;
  }
  std::printf("redis-server on 127.0.0.1:%d\n", port);
  int failures = 0;
  failures += run_group(2, port, "redis_g2");
  failures += run_group(3, port, "redis_g3");
  redis.stop();
  if (failures == 0) std::printf("PASSED: groups of 2 and 3 processes over redis\n");
  return failures == 0 ? 0 : 1;
}
