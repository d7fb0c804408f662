#!/usr/bin/env bash
# Builds tests/capi/request_fuzz.cc with clang (-fsanitize=fuzzer,address,
# undefined) over the C ABI's decoding sources and runs it for a bounded
# time. Exit 77 (skipped) when no clang with libFuzzer is available.
#
#   tests/capi/fuzz_test.sh <source dir> <build dir> [seconds=30] [extra libFuzzer flags...]
#
# A longer run (docs/c-api.md): tests/capi/fuzz_test.sh . build-capi 3600 -jobs=2
# keeps its corpus in <build dir>/fuzz/corpus between runs; crashes are
# written to <build dir>/fuzz/ as crash-* files (reproduce: run the binary
# with the file as argument).
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
seconds=${3:-30}
shift 3 || shift $#

cxx=""
for c in "${RINGLM_FUZZ_CXX:-}" clang++ clang++-18 clang++-17 clang++-16 clang++-15 clang++-14; do
  if [[ -n "$c" ]] && command -v "$c" >/dev/null 2>&1; then cxx=$c; break; fi
done
if [[ -z "$cxx" ]]; then
  echo "SKIP: no clang++ found (libFuzzer needs clang)"; exit 77
fi
out=$build/fuzz
mkdir -p "$out/corpus" "$out/seeds"
probe=$out/probe.cc
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' > "$probe"
if ! "$cxx" -fsanitize=fuzzer "$probe" -o "$out/probe" >/dev/null 2>&1; then
  echo "SKIP: $cxx cannot link -fsanitize=fuzzer"; exit 77
fi

gen=$build/generated
if [[ ! -f $gen/capi/schema_text.cc || ! -f $gen/ringlm/chat_request_generated.h ]]; then
  echo "generated schema sources missing under $gen: build ringlm_capi first" >&2; exit 1
fi
sources=("$src/tests/capi/request_fuzz.cc" "$src/capi/src/messages.cc" "$src/capi/src/decode.cc"
         "$gen/capi/schema_text.cc" "$src/engine/core/status.cc" "$src/engine/runtime/sampler.cc"
         "$src/engine/runtime/logprobs.cc")
bin=$out/request_fuzz
# Rebuild only when a source is newer than the binary.
rebuild=0
[[ -x $bin ]] || rebuild=1
for s in "${sources[@]}" "$src"/capi/src/*.h "$gen"/ringlm/*_generated.h; do
  [[ $s -nt $bin ]] && rebuild=1
done
if (( rebuild )); then
  echo "building $bin with $cxx"
  "$cxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$src/capi/src" -I"$src/capi/include" -I"$src/engine" -I"$src/kernels" -I"$gen" \
    "${sources[@]}" -lflatbuffers -o "$bin"
fi

RINGLM_FUZZ_SEED_DIR=$out/seeds "$bin" -runs=0 "$out/seeds" >/dev/null 2>&1 || true
echo "fuzzing for ${seconds}s (corpus $out/corpus)"
cd "$out"
exec "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 "$@" "$out/corpus" "$out/seeds"
