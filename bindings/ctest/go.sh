#!/bin/sh
# ctest driver of the Go binding, offline, against the prefix that
# bindings_install_prefix filled (pkg-config ringlm).
#   go.sh test    <go> <bindings/go> <prefix> <work dir>   go test ./...
#   go.sh example <go> <examples/go> <prefix> <work dir>   a two-turn chat (go run .)
# Exit 77 (skipped) when Go, a C compiler, pkg-config or SWIG is missing.
set -eu
mode=$1 go=$2 src=$3 prefix=$4 work=$5
mkdir -p "$work"
src=$(cd "$src" && pwd) prefix=$(cd "$prefix" 2>/dev/null && pwd || echo "$prefix") work=$(cd "$work" && pwd)
if [ -z "$go" ] || ! command -v "$go" >/dev/null 2>&1; then
  echo "skipped: no go command was found when configuring (Debian: golang-go)"; exit 77
fi
for tool in pkg-config swig cc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "skipped: $tool is missing (cgo and the go tool's SWIG step need it)"; exit 77
  fi
done
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LD_LIBRARY_PATH="$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CGO_ENABLED=1 GOPROXY=off GOSUMDB=off GOFLAGS=-mod=mod GOTOOLCHAIN=local
export GOPATH="$work/gopath" GOCACHE="$work/cache-$mode"
# The go tool caches SWIG and cgo output by the package's own files; the
# interface file (bindings/swig/ringlm.i) and the C header live elsewhere,
# so a change to either starts from an empty cache.
bindings=$(cd "$(dirname "$0")/.." && pwd)
stamp=$(cat "$bindings/swig/ringlm.i" "$prefix/include/ringlm/ringlm.h" | cksum)
if [ ! -f "$GOCACHE.stamp" ] || [ "$(cat "$GOCACHE.stamp")" != "$stamp" ]; then
  rm -rf "$GOCACHE"
  echo "$stamp" > "$GOCACHE.stamp"
fi
cd "$src"
case $mode in
  test)
    exec "$go" test -count=1 -timeout 540s ./... ;;
  example)
    printf 'My cat is called Tom.\nWhat is my cat called?\n' | "$go" run . -max-tokens 8 ;;
  *)
    echo "go.sh: unknown mode $mode" >&2; exit 2 ;;
esac
