#!/usr/bin/env bash
# Sets everything up on a fresh Debian machine and runs the whole test suite:
# system and Python packages, the default model, the build, then ctest
# (C++ unit and multi-rank tests, multi-process tests, the C ABI tests and the
# language bindings' own suites where they are built).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/fetch_model.sh >/dev/null
bash scripts/build.sh
# Multi-rank tests time their deadlines; run tests one at a time on small machines.
jobs=1
if [ "$(nproc)" -ge 8 ]; then jobs=4; fi
ctest --test-dir build --output-on-failure -j "$jobs" "$@"
