// main() of the GPU tests: skip (exit 77) without a CUDA device, else run Catch2.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include "backend/cuda/cuda_backend.h"

int main(int argc, char** argv) {
  if (ringlm::cuda_device_count() == 0) {
    std::printf("SKIPPED: no CUDA device\n");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
