#!/usr/bin/env bash
# The ABI check of libringlm.so against the committed baseline.
#
#   tests/capi/abi_check.sh <libringlm.so> <public include dir> <baseline.abi> <work dir>
#       compares; exit 0 when compatible (additions are reported, not
#       failed), 1 on an incompatible change, 77 (skipped) without
#       abidw/abidiff or without debug info in the library.
#   tests/capi/abi_check.sh --dump <libringlm.so> <public include dir>
#       writes the library's ABI (as the baseline records it) to stdout.
#
# Only what the public header declares is compared: the exported ringlm_*
# functions and the types they use (--headers-dir, --exported-interfaces-only).
set -euo pipefail

dump() {
  abidw --headers-dir "$2" --drop-private-types --exported-interfaces-only --no-corpus-path \
    --no-show-locs --no-comp-dir-path --type-id-style hash "$1"
}

if [[ ${1:-} == --dump ]]; then
  dump "$2" "$3"
  exit 0
fi
lib=$1 include=$2 baseline=$3 work=$4
for tool in abidw abidiff readelf; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed (abigail-tools, binutils)"; exit 77; }
done
if ! readelf -S "$lib" | grep -q '\.debug_info'; then
  echo "SKIP: $lib has no debug info (build with RelWithDebInfo or Debug)"; exit 77
fi
mkdir -p "$work"
current=$work/libringlm.current.abi
dump "$lib" "$include" > "$current"
set +e
abidiff --no-show-locs "$baseline" "$current" > "$work/abidiff.txt" 2>&1
rc=$?
set -e
cat "$work/abidiff.txt"
# abidiff's exit status is a bit mask: 1 error, 2 usage error, 4 ABI change,
# 8 incompatible ABI change.
if (( rc & 3 )); then
  echo "FAILED: abidiff could not compare (exit $rc)"; exit 1
fi
if (( rc & 8 )); then
  echo "FAILED: incompatible ABI change against capi/abi/libringlm.abi (see above)."
  echo "Keep the old functions and types as they were; if the break is intended, raise"
  echo "RINGLM_ABI_VERSION and regenerate the baseline with tools/update_abi_baseline.sh."
  exit 1
fi
if (( rc & 4 )); then
  echo "NOTE: compatible ABI additions; record them with tools/update_abi_baseline.sh"
fi
echo "ABI compatible with the baseline"
