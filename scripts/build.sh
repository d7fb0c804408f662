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
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build build -j "$(nproc)"
