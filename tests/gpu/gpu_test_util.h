// Helpers of the GPU tests: the shared CUDA backend, host <-> backend copies,
// and element-wise comparison with tolerances.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/cuda_backend.h"

namespace ringlm::test {

// One CudaBackend on device 0 for the whole test binary.
inline Backend& cuda_backend() {
  static std::unique_ptr<Backend> b = [] {
    auto r = make_cuda_backend(0);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return std::move(r).value();
  }();
  return *b;
}

template <typename T>
Buffer upload(Backend& b, const std::vector<T>& v) {
  auto r = b.alloc(sizeof(T) * std::max<size_t>(v.size(), 1));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  Buffer buf = std::move(r).value();
  if (!v.empty()) {
    const Status st = b.copy_from_host(buf.data(), v.data(), sizeof(T) * v.size());
    INFO(st.ToString());
    REQUIRE(st.ok());
  }
  return buf;
}

template <typename T>
std::vector<T> download(Backend& b, const void* src, size_t n) {
  std::vector<T> v(n);
  Status st = b.synchronize();
  INFO(st.ToString());
  REQUIRE(st.ok());
  if (n) {
    st = b.copy_to_host(v.data(), src, sizeof(T) * n);
    INFO(st.ToString());
    REQUIRE(st.ok());
  }
  return v;
}

inline void require_ok(const Status& st) {
  INFO(st.ToString());
  REQUIRE(st.ok());
}

struct Tol {
  double abs;
  double rel;
};

// Every got[i] within abs + rel * |want[i]| of want[i]; infinities must match
// exactly, NaN never passes. Reports the count and the first few offenders.
template <typename G, typename W>
void expect_close(const std::vector<G>& got, const std::vector<W>& want, Tol tol,
                  const std::string& what) {
  REQUIRE(got.size() == want.size());
  size_t bad = 0;
  double worst = 0.0;
  std::ostringstream first;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = double(got[i]), w = double(want[i]);
    bool ok;
    if (std::isinf(w) || std::isinf(g)) {
      ok = g == w;
    } else {
      const double err = std::fabs(g - w);
      ok = err <= tol.abs + tol.rel * std::fabs(w);  // false for NaN
      if (ok && err > worst) worst = err;
    }
    if (!ok) {
      if (bad < 5) first << "  [" << i << "] got " << g << " want " << w << "\n";
      ++bad;
    }
  }
  INFO(what << ": " << bad << " of " << got.size() << " outside abs " << tol.abs << " + rel "
            << tol.rel << " (largest passing error " << worst << ")\n"
            << first.str());
  CHECK(bad == 0);
}

}  // namespace ringlm::test
