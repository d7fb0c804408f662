#!/usr/bin/env bash
# Regenerates the ABI baseline capi/abi/libringlm.abi from a built
# libringlm.so (with debug info: a RelWithDebInfo or Debug build).
#
#   tools/update_abi_baseline.sh [build dir = build]
#
# Run it when a release adds to the ABI (new functions, enum values), after
# the capi_abi_check test has shown the change is compatible; commit the new
# baseline with the change. An incompatible change also needs the ABI number
# raised (RINGLM_ABI_VERSION in ringlm.h and capi/capi.cmake).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
lib=$(readlink -f "$build/lib/libringlm.so")
[[ -f $lib ]] || { echo "no $build/lib/libringlm.so: build target ringlm_capi first" >&2; exit 1; }
"$here/tests/capi/abi_check.sh" --dump "$lib" "$here/capi/include" > "$here/capi/abi/libringlm.abi"
echo "wrote capi/abi/libringlm.abi from $lib"
