#!/bin/sh
# ctest driver of the Python binding.
#   python.sh install <python3> <bindings/python> <prefix> <work dir>
#       pip install ./bindings/python into <work dir>/site, built against the
#       prefix that bindings_install_prefix filled (bindings_python_install)
#   python.sh pytest  <python3> <bindings/python> <prefix> <work dir>
#       pytest on the real model with that site on PYTHONPATH
#   python.sh example <python3> <examples/python> <prefix> <work dir>
#       a two-turn chat through examples/python/chat.py
# Exit 77 (skipped) when a Python package the build or the tests need is missing.
set -eu
mode=$1 py=$2 src=$3 prefix=$4 work=$5
mkdir -p "$work"
src=$(cd "$src" && pwd) prefix=$(cd "$prefix" 2>/dev/null && pwd || echo "$prefix") work=$(cd "$work" && pwd)
if ! command -v "$py" >/dev/null 2>&1; then
  echo "skipped: no $py on PATH"; exit 77
fi
for mod in scikit_build_core pytest flatbuffers; do
  if ! "$py" -c "import $mod" >/dev/null 2>&1; then
    echo "skipped: Python module '$mod' is missing (scripts/install_deps.sh installs it)"; exit 77
  fi
done
case $mode in
  install)
    # No build isolation: the build backend comes from the environment (no
    # network needed); the CMake build directory persists between runs.
    CMAKE_PREFIX_PATH="$prefix" exec "$py" -m pip install --quiet --disable-pip-version-check \
      --root-user-action=ignore --no-build-isolation --no-deps --upgrade --target "$work/site" \
      --config-settings=build-dir="$work/skbuild" "$src" ;;
  pytest)
    cd "$src"
    PYTHONPATH="$work/site" exec "$py" -m pytest -q -p no:cacheprovider tests ;;
  example)
    printf 'My cat is called Tom.\nWhat is my cat called?\n' |
      PYTHONPATH="$work/site" "$py" "$src/chat.py" --max-tokens 8 ;;
  *)
    echo "python.sh: unknown mode $mode" >&2; exit 2 ;;
esac
