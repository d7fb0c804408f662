#!/usr/bin/env bash
# Configures and builds ringlm into build/ (the tool is build/bin/ringlm).
# Where nvcc is present, the cuDNN frontend headers are fetched first (for the
# CUDA backend's cuDNN attention); without them the build goes on, using
# ringlm's own attention kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  bash scripts/fetch_cudnn_frontend.sh >/dev/null ||
    echo "build: cuDNN frontend headers not fetched; building without cuDNN attention" >&2
fi
if [ -f build/CMakeCache.txt ] && ! grep -qx 'CMAKE_GENERATOR:INTERNAL=Ninja' build/CMakeCache.txt; then
  echo "build: build/ was configured with another CMake generator: remove it (rm -rf build)" >&2
  exit 1
fi
# Configured every time (a second or two): what the last run lacked, such as
# the cuDNN frontend headers, is picked up once it is there.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
