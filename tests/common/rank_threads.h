// Helpers of the Comm tests: N rank threads in one process. Catch2
// assertions are not thread-safe, so rank threads only return what they saw
// ("" = fine) and the test thread checks it.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"

namespace ringlm::test {

// A byte that depends on the sender, the receiver and the position.
inline uint8_t pattern(int src, int dst, size_t i, int salt = 0) {
  return static_cast<uint8_t>(src * 131 + dst * 31 + i * 7 + salt * 17 + (i >> 8));
}

inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Runs fn(rank) on n threads and returns what each returned.
inline std::vector<std::string> run_ranks(int n, const std::function<std::string(int)>& fn) {
  std::vector<std::string> out(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      try {
        out[static_cast<size_t>(r)] = fn(r);
      } catch (const std::exception& e) {
        out[static_cast<size_t>(r)] = std::string("exception: ") + e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

inline void check_all_ok(const std::vector<std::string>& errors) {
  for (size_t r = 0; r < errors.size(); ++r) {
    INFO("rank " << r);
    CHECK(errors[r] == "");
  }
}

inline std::string describe(const Status& s) { return s.ok() ? "" : s.ToString(); }

}  // namespace ringlm::test
