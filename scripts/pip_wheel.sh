# Sourced by the fetch scripts: download_wheel SPEC DIR downloads one wheel
# (no dependencies) from the Python package index into DIR and prints its
# path; fails when pip does not leave exactly one wheel there.
download_wheel() {
  local spec=$1 dir=$2
  echo "$(basename "$0"): python3 -m pip download --no-deps $spec -d $dir" >&2
  python3 -m pip download --no-deps "$spec" -d "$dir" >&2 || return 1
  local wheels=()
  shopt -s nullglob
  wheels=("$dir"/*.whl)
  shopt -u nullglob
  if [ ${#wheels[@]} -ne 1 ]; then
    echo "$(basename "$0"): expected one wheel in $dir, found ${#wheels[@]}" >&2
    return 1
  fi
  echo "${wheels[0]}"
}
