#!/usr/bin/env bash
# ThreadSanitizer check of the C ABI: builds libringlm and the C ABI tests
# that run many host threads, cancellations, saves and engine calls at once (and
# the leader heartbeat test, a thread beside the steps; and LocalComm, whose
# ranks share memory) in a separate build
# tree with -fsanitize=thread, and runs them there.
#
#   tools/tsan_check.sh [build dir = build-tsan]
#
# Takes a full instrumented build of the engine (several minutes on a small
# machine, about as long as the regular build again), which is why the ctest
# test "capi_tsan" only runs this when RINGLM_TSAN=1 and is skipped (77)
# otherwise. Environment: CC / CXX pick the compiler (gcc and clang both
# work); RINGLM_CAPI_THREADS / RINGLM_CAPI_TURNS size the threads test.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-tsan}
jobs=${RINGLM_TSAN_JOBS:-2}

cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGLM_SANITIZE=thread \
  -DRINGLM_ENABLE_CUDA=OFF >/dev/null
ninja -C "$build" -j"$jobs" capi_threads_test capi_cancel_test capi_save_restore_test rank_heartbeat_test comm_local_test

# One compute thread per rank and a single-threaded BLAS: the OpenMP and
# OpenBLAS runtimes are not instrumented, and what matters here is the
# library's own threads (host threads, request workers, rank threads).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4 suppressions=$here/tools/tsan.supp ${TSAN_OPTIONS:-}"
export RINGLM_CAPI_THREADS=${RINGLM_CAPI_THREADS:-3} RINGLM_CAPI_TURNS=${RINGLM_CAPI_TURNS:-1}
status=0
for t in capi_threads_test capi_cancel_test capi_save_restore_test rank_heartbeat_test comm_local_test; do
  echo "== $t under ThreadSanitizer"
  rc=0
  RINGLM_BINARY_DIR=$build "$build/bin/$t" || rc=$?
  if [[ $rc -eq 77 ]]; then
    echo "SKIP: $t skipped (model missing?)"; exit 77
  elif [[ $rc -ne 0 ]]; then
    echo "FAILED: $t (exit $rc)"
    status=1
  fi
done
exit $status
