#!/usr/bin/env bash
# The installed package, as a host application sees it.
#
#   tests/capi/install_test.sh c   <source dir> <build dir>
#       cmake --install to a temporary prefix, checks its layout and the
#       pkg-config file, compiles examples/c/chat.c with
#       `cc $(pkg-config --cflags --libs ringlm)` and chats two turns with
#       the default model on 2 CP ranks.
#   tests/capi/install_test.sh cpp <source dir> <build dir>
#       the same prefix through find_package(ringlm): configures, builds and
#       runs examples/cpp for one turn.
# Exit 77 (skipped) when the model, a C compiler or pkg-config is missing.
set -euo pipefail
mode=$1
src=$(cd "$2" && pwd)
build=$(cd "$3" && pwd)
work=$build/tmp/capi_install_$mode
prefix=$work/prefix
model=${RINGLM_MODEL:-$HOME/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf}
[[ -f $model ]] || { echo "SKIP: model $model not found"; exit 77; }

rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$prefix" --component ringlm >"$work/install.log"

# Layout.
for f in include/ringlm/ringlm.h include/ringlm/event_generated.h include/ringlm/common_generated.h \
         share/ringlm/schemas/event.fbs share/ringlm/schemas/common.fbs; do
  [[ -f $prefix/$f ]] || { echo "FAILED: $f not installed"; exit 1; }
done
pc=$(find "$prefix" -name ringlm.pc | head -1)
config=$(find "$prefix" -name ringlmConfig.cmake | head -1)
[[ -n $pc && -n $config ]] || { echo "FAILED: ringlm.pc or ringlmConfig.cmake not installed"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
[[ -L $libdir/libringlm.so && -L $libdir/libringlm.so.0 ]] || { echo "FAILED: libringlm.so symlinks"; exit 1; }
soname=$(readelf -d "$libdir/libringlm.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[[ $soname == libringlm.so.0 ]] || { echo "FAILED: SONAME is '$soname'"; exit 1; }
exported=$(nm -D --defined-only "$libdir/libringlm.so" | awk '$2 == "T" || $2 == "D" || $2 == "B" {print $3}' | sed 's/@.*//')
if grep -qv '^ringlm_' <<<"$exported"; then
  echo "FAILED: symbols other than ringlm_* exported:"; grep -v '^ringlm_' <<<"$exported" | head; exit 1
fi

if [[ $mode == c ]]; then
  command -v pkg-config >/dev/null || { echo "SKIP: pkg-config not installed"; exit 77; }
  cc=${CC:-cc}
  command -v "$cc" >/dev/null || { echo "SKIP: no C compiler ($cc)"; exit 77; }
  export PKG_CONFIG_PATH=$(dirname "$pc")
  version=$(pkg-config --modversion ringlm)
  echo "pkg-config: ringlm $version, $(pkg-config --cflags --libs ringlm)"
  [[ $version == $(sed -n 's/^#define RINGLM_VERSION "\(.*\)"/\1/p' "$prefix/include/ringlm/ringlm.h") ]] ||
    { echo "FAILED: ringlm.pc version $version differs from the header"; exit 1; }
  pkg-config --libs --static ringlm >/dev/null
  # Strict C99: the public header is plain C.
  "$cc" -std=c99 -pedantic -Wall -Wextra -Werror "$src/examples/c/chat.c" -o "$work/chat" \
    $(pkg-config --cflags --libs ringlm) -Wl,-rpath,"$(pkg-config --variable=libdir ringlm)"
  printf 'What is the capital of France?\nAnd of Italy?\n' |
    "$work/chat" --model "$model" --cp 2 --max-tokens 8 >"$work/out.txt" 2>"$work/err.txt" ||
    { cat "$work/err.txt"; echo "FAILED: the example exited with an error"; exit 1; }
  cat "$work/out.txt" "$work/err.txt"
  grep -q '^\[turn 1: finish' "$work/err.txt" && grep -q '^\[turn 2: finish' "$work/err.txt" ||
    { echo "FAILED: two turns expected"; exit 1; }
  # Turn 2 reuses turn 1's KV on the two ranks.
  grep '^\[turn 2:' "$work/err.txt" | grep -qv '(cached 0)' || { echo "FAILED: turn 2 reused no KV"; exit 1; }
  [[ $(grep -c . "$work/out.txt") -ge 2 ]] || { echo "FAILED: no replies"; exit 1; }
else
  gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  cmake -S "$src/examples/cpp" -B "$work/build" "${gen[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" || { cat "$work/configure.log"; exit 1; }
  cmake --build "$work/build" >"$work/build.log" || { cat "$work/build.log"; exit 1; }
  echo 'Say hello.' | LD_LIBRARY_PATH=$libdir "$work/build/ringlm_chat_cpp" --model "$model" --cp 1 \
    --max-tokens 4 >"$work/out.txt" 2>"$work/err.txt" || { cat "$work/err.txt"; exit 1; }
  cat "$work/out.txt" "$work/err.txt"
  grep -q '^\[turn 1: finish' "$work/err.txt" || { echo "FAILED: no turn"; exit 1; }
fi
echo "OK"
