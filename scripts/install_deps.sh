#!/usr/bin/env bash
# Installs what ringlm needs to build and test on Debian 12: the system
# packages (apt) and the Python packages the tests and tools use (pip).
# Idempotent: apt is skipped entirely when every package is installed, pip
# when every module imports. Run as root, or as a user with sudo.
set -euo pipefail

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config   # toolchain
  libgloo-dev                                    # CPU collectives (Gloo TCP)
  flatbuffers-compiler libflatbuffers-dev        # C ABI and control-plane schemas
  catch2                                         # C++ unit tests
  libopenblas-dev                                # CPU GEMM
  libpcre2-dev                                   # tokenizer pre-split regexes
  swig golang-go default-jdk junit5              # language bindings and their tests
  redis-server                                   # multi-host rendezvous store tests
  abigail-tools                                  # C ABI compatibility checks
  clang libclang-rt-14-dev                       # sanitizer builds
  python3 python3-pip
)
# pip package name -> Python module name
PY_PACKAGES=(numpy:numpy gguf:gguf tokenizers:tokenizers pytest:pytest flatbuffers:flatbuffers
             scikit-build-core:scikit_build_core)

log() { echo "install_deps: $*"; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    log "not root and sudo is not available: run as root" >&2
    exit 1
  fi
fi

# --- system packages ---
missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  log "all ${#APT_PACKAGES[@]} apt packages are installed"
else
  log "missing apt packages: ${missing[*]}"
  log "apt-get update"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  log "apt-get install -y ${APT_PACKAGES[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${APT_PACKAGES[@]}"
fi

# --- Python packages (for the python3 first on PATH, which the tests use) ---
py_missing=()
for entry in "${PY_PACKAGES[@]}"; do
  pkg=${entry%%:*}
  mod=${entry##*:}
  if ! python3 -c "import ${mod}" >/dev/null 2>&1; then
    py_missing+=("$pkg")
  fi
done
if [ ${#py_missing[@]} -eq 0 ]; then
  log "all Python packages import: ${PY_PACKAGES[*]%%:*}"
  exit 0
fi
log "missing Python packages: ${py_missing[*]}"
if python3 -c 'import sys; sys.exit(0 if sys.prefix != sys.base_prefix else 1)'; then
  # Inside a virtual environment: a plain install goes there.
  log "python3 -m pip install ${py_missing[*]}"
  python3 -m pip install "${py_missing[@]}"
elif log "python3 -m pip install --user ${py_missing[*]}" &&
     python3 -m pip install --user "${py_missing[@]}"; then
  :
else
  # Debian's python3 refuses pip installs outside a venv (PEP 668); --user
  # keeps the packages out of the system's site-packages all the same.
  log "retrying with --break-system-packages (PEP 668 environment)"
  python3 -m pip install --user --break-system-packages "${py_missing[@]}"
fi
log "done"
