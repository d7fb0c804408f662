#!/usr/bin/env bash
# Packs the build dependencies a bare CUDA machine may lack (Gloo, FlatBuffers
# and flatc, OpenBLAS, PCRE2, Catch2, pkg-config) as Debian packages into
# .gpudeps/debs/ (about 16 MB), for tools/gpu/run_gpu_checks.sh to unpack
# into a private prefix there; and the headers of cuDNN attention: the cuDNN
# frontend (scripts/fetch_cudnn_frontend.sh) into .gpudeps/cudnn-frontend/ and
# this toolkit's cudnn*.h into .gpudeps/cudnn/include/ (3.6 MB; the GPU
# machine's own libcudnn is loaded at run time). Run on a development machine (Debian 12, the
# packages installed); takes them from apt's cache, else `apt-get download`.
# .gpudeps/ is added to .git/info/exclude: it never enters a commit, and
# travels to the GPU machine only when named explicitly (carry: [".gpudeps"]).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

PKGS=(
  libgloo-dev libgloo0 libhiredis-dev libhiredis0.14 libibverbs1 libnl-3-200 libnl-route-3-200
  libflatbuffers-dev libflatbuffers2 flatbuffers-compiler flatbuffers-compiler-dev
  libopenblas-pthread-dev libopenblas0-pthread libgfortran5 libquadmath0
  libpcre2-dev libpcre2-8-0
  catch2
  pkgconf pkgconf-bin libpkgconf3
)

mkdir -p .gpudeps/debs
rm -f .gpudeps/debs/*.deb
for p in "${PKGS[@]}"; do
  ver=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || true)
  arch=$(dpkg-query -W -f='${Architecture}' "$p" 2>/dev/null || echo amd64)
  # apt's cache names files <name>_<version with ':' as %3a>_<arch>.deb
  cached=/var/cache/apt/archives/${p}_${ver//:/%3a}_${arch}.deb
  if [[ -n "$ver" && -f "$cached" ]]; then
    cp "$cached" .gpudeps/debs/
  else
    (cd .gpudeps/debs && apt-get download "$p${ver:+=$ver}")
  fi
done
fe=$(bash scripts/fetch_cudnn_frontend.sh)
rm -rf .gpudeps/cudnn-frontend .gpudeps/cudnn
mkdir -p .gpudeps/cudnn-frontend .gpudeps/cudnn/include
cp -r "$fe" .gpudeps/cudnn-frontend/include
cp /usr/local/cuda/include/cudnn*.h .gpudeps/cudnn/include/
grep -qxF '/.gpudeps/' .git/info/exclude 2>/dev/null || echo '/.gpudeps/' >> .git/info/exclude
du -sh .gpudeps
ls .gpudeps/debs
