#!/usr/bin/env bash
# Makes the cuDNN frontend headers (NVIDIA's header-only C++ API over cuDNN's
# graph backend, MIT licence) available and prints their include directory as
# the last line. The CUDA backend uses them for cuDNN's fused attention; a
# build without them keeps ringlm's own attention kernel.
#   - $RINGLM_CUDNN_FRONTEND_DIR, when it holds cudnn_frontend.h, is used as is;
#   - else ~/.cache/ringlm/cudnn-frontend-$VERSION/include, unpacked once from
#     the nvidia-cudnn-frontend wheel on the Python package index (pip
#     download; no other host is contacted).
# Idempotent: an unpacked version is never fetched again.
set -euo pipefail
. "$(dirname "$0")/pip_wheel.sh"

VERSION=1.32.0
log() { echo "fetch_cudnn_frontend: $*" >&2; }

if [ -n "${RINGLM_CUDNN_FRONTEND_DIR:-}" ] && [ -f "$RINGLM_CUDNN_FRONTEND_DIR/cudnn_frontend.h" ]; then
  echo "$RINGLM_CUDNN_FRONTEND_DIR"
  exit 0
fi

dir="${HOME}/.cache/ringlm/cudnn-frontend-$VERSION"
if [ -f "$dir/include/cudnn_frontend.h" ]; then
  log "already present"
  echo "$dir/include"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
wheel=$(download_wheel "nvidia-cudnn-frontend==$VERSION" "$tmp")
mkdir -p "$dir"
python3 - "$wheel" "$tmp/unpacked" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.startswith("include/")]
    if not any(m == "include/cudnn_frontend.h" for m in members):
        sys.exit(f"fetch_cudnn_frontend: include/cudnn_frontend.h not in {wheel}")
    z.extractall(out, members)
PY
rm -rf "$dir/include"
mv "$tmp/unpacked/include" "$dir/include"
log "unpacked $(find "$dir/include" -type f | wc -l) headers into $dir/include"
echo "$dir/include"
