#!/usr/bin/env bash
# The GPU checks, in one run, on a CUDA machine without network access, from
# the repository root:
#   bash tools/gpu/run_gpu_checks.sh
# 1. configure (Release, CUDA arch $RINGLM_GPU_ARCHS, default 90) and build
#    only ringlm_engine, the GPU tests and the benchmarks (-j$JOBS, default 16);
# 2. ctest -L gpu --output-on-failure, and cp_ring_test's [gpu] cases;
# 3. tools/gpu/bench_attention (ours) and tools/gpu/bench_torch_sdpa.py, run
#    last (after 4), and only while fewer than $ATTN_BENCH_UNTIL_S seconds
#    have passed (default: always);
# 4. engine checks on the GPU: `ringlm bench model` (Llama-3-8B shape, random
#    weights: prefill time, MFU, decode; bf16 KV cache, the CUDA default; a
#    second run decodes with the grouped attention kernel),
#    `ringlm bench ring` (the ring's attention with and without key-run
#    cutting, two ranks on the one GPU), the
#    CP engine equality suite on the CUDA backend (also with the grouped
#    attention kernel), session rewind/fork on the CUDA backend,
#    and GPU vs CPU greedy tokens
#    with f32 and with bf16 KV on the default model's first layers
#    (.gpumodel/, made by tools/gpu/truncate_model.py and carried).
# PHASE=1 runs 1-3, PHASE=2 runs 4 (reusing the build), default both.
# SKIP_ATTN_BENCH=1 leaves out step 3; MODEL_BENCH_EXTRA="flags" sets the
# flags of the second `ringlm bench model` run (default: f32 KV at 128K;
# empty: no second run).
# Everything goes to $OUT/gpu_log.txt (OUT defaults to ./gpu-out), with the
# full configure / build / ctest output beside it. Each step has its own
# timeout; the worst case of all of them together passes 10 minutes, so on a
# machine that allows one command 10 minutes run PHASE=1, then PHASE=2 (which
# reuses the build; OUT should differ, or the second log replaces the first).
# Exit status: 0 when the build and the GPU tests passed, 1 otherwise (the
# benchmarks never fail the run).
#
# Build dependencies (Gloo, FlatBuffers + flatc, OpenBLAS, PCRE2, Catch2,
# pkg-config): when .gpudeps/debs/ is present (tools/gpu/pack_deps.sh, carried
# along), its Debian packages are unpacked into a private prefix ($DEPS, never
# /) and the build is pointed at it; otherwise the machine's own are used.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
OUT=${OUT:-$ROOT/gpu-out}
mkdir -p "$OUT"
LOG=$OUT/gpu_log.txt
: >"$LOG"
exec > >(tee -a "$LOG") 2>&1

JOBS=${JOBS:-16}
BUILD=${BUILD:-$ROOT/build-gpu}
ARCHS=${RINGLM_GPU_ARCHS:-90}
DEPS=${DEPS:-/tmp/ringlm-deps}
STATUS=0
ORIG_LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}
step() { echo; echo "=== $* [$(date +%T), ${SECONDS}s]"; }

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 | head -5
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
nvcc --version 2>&1 | tail -2
cmake --version | head -1
echo "ninja $(ninja --version 2>&1)"
g++ --version | head -1
python3 -c 'import sys; print("python", sys.version.split()[0])'
nproc

# --- dependencies ---
CMAKE_DEP_ARGS=()
if compgen -G ".gpudeps/debs/*.deb" >/dev/null; then
  step "unpacking .gpudeps/debs into $DEPS"
  rm -rf "$DEPS" && mkdir -p "$DEPS"
  for f in .gpudeps/debs/*.deb; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$f" "$DEPS" || echo "could not unpack $f"
    else  # no dpkg: a .deb is an ar archive holding data.tar.*
      (t=$(mktemp -d) && cd "$t" && ar x "$ROOT/$f" && tar -xf data.tar.* -C "$DEPS"; rm -rf "$t") ||
        echo "could not unpack $f"
    fi
  done
  ML=$DEPS/usr/lib/x86_64-linux-gnu
  # Gloo's import file names /usr/lib absolutely; the .pc files name /usr (hiredis: includedir too).
  sed -i "s#\"/usr/lib/#\"$DEPS/usr/lib/#g" "$DEPS"/usr/share/cmake/Gloo/*.cmake
  sed -i -E "s#^(prefix|libdir|includedir)=/usr(/|\$)#\1=$DEPS/usr\2#" "$ML"/pkgconfig/*.pc
  # Debian picks the OpenBLAS flavour through alternatives links: make them.
  ln -sf openblas-pthread/libopenblas.so "$ML/libopenblas.so"
  ln -sf openblas-pthread/libopenblas.so.0 "$ML/libopenblas.so.0"
  export PATH=$PATH:$DEPS/usr/bin   # flatc, and pkg-config where the machine has none
  export LD_LIBRARY_PATH=$ML:$ML/openblas-pthread:$DEPS/usr/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export PKG_CONFIG_PATH=$ML/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  command -v pkg-config >/dev/null || ln -sf pkgconf "$DEPS/usr/bin/pkg-config"
  CMAKE_DEP_ARGS=(
    "-DCMAKE_PREFIX_PATH=$DEPS/usr"
    "-DGloo_DIR=$DEPS/usr/share/cmake/Gloo"
    "-DFlatBuffers_DIR=$ML/cmake/flatbuffers"
    "-DCMAKE_CXX_FLAGS=-isystem $DEPS/usr/include -isystem $DEPS/usr/include/x86_64-linux-gnu/openblas-pthread"
  )
fi

# --- cuDNN: headers for the build, libcudnn for run time ---
step "cuDNN"
if [[ -f .gpudeps/cudnn-frontend/include/cudnn_frontend.h ]]; then
  CMAKE_DEP_ARGS+=("-DRINGLM_CUDNN_FRONTEND_DIR=$ROOT/.gpudeps/cudnn-frontend/include")
fi
if ! compgen -G "/usr/local/cuda/include/cudnn.h" >/dev/null && ! compgen -G "/usr/include/cudnn.h" >/dev/null &&
   [[ -f .gpudeps/cudnn/include/cudnn.h ]]; then
  export RINGLM_CUDNN_ROOT=$ROOT/.gpudeps/cudnn
  echo "cudnn.h: carried ($RINGLM_CUDNN_ROOT/include)"
fi
CUDNN_LIB=$( (ldconfig -p 2>/dev/null | awk '/libcudnn\.so\.9 /{print $NF; exit}') )
if [[ -z "$CUDNN_LIB" ]]; then
  CUDNN_LIB=$(ls /usr/local/cuda/lib64/libcudnn.so.9 /usr/lib/x86_64-linux-gnu/libcudnn.so.9 2>/dev/null | head -1)
fi
if [[ -z "$CUDNN_LIB" ]]; then  # the one PyTorch ships, from its pip wheel
  CUDNN_LIB=$(python3 -c 'import glob, site, os
for r in site.getsitepackages():
    for f in sorted(glob.glob(os.path.join(r, "nvidia", "**", "libcudnn.so.9"), recursive=True)):
        print(f); raise SystemExit' 2>/dev/null)
fi
if [[ -n "$CUDNN_LIB" ]]; then
  echo "libcudnn: $CUDNN_LIB"
  ls "$(dirname "$CUDNN_LIB")" | grep -i cudnn | head -12
  export LD_LIBRARY_PATH=$(dirname "$CUDNN_LIB")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export RINGLM_CUDNN_LIBRARY=$CUDNN_LIB
else
  echo "libcudnn.so.9 not found: attention runs on ringlm's kernel"
fi

# --- configure + build ---
step "configure ($BUILD, CUDA arch $ARCHS)"
timeout 300 cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DRINGLM_CUDA_ARCHITECTURES="$ARCHS" -DRINGLM_BUILD_BINDINGS=OFF "${CMAKE_DEP_ARGS[@]}" >"$OUT/configure.txt" 2>&1
rc=$?
grep -E "ringlm|CUDA|NCCL|cuDNN|Error|error" "$OUT/configure.txt" | head -40
if [[ $rc -ne 0 ]]; then
  echo "configure FAILED (rc=$rc); last lines:"; tail -40 "$OUT/configure.txt"
  exit 1
fi

PHASE=${PHASE:-all}
TARGETS=$(ninja -C "$BUILD" -t targets all 2>/dev/null |
  sed -n -E 's/^((gpu_[a-z0-9_]+_test)|(bench_[a-z0-9_]+)): phony$/\1/p' | sort -u | tr '\n' ' ')
TARGETS="$TARGETS ringlm_cli cp_engine_test cp_ring_test engine_session_edit_test prefix_sharing_test"
step "build: ringlm_engine $TARGETS"
timeout "${BUILD_TIMEOUT:-420}" ninja -C "$BUILD" -j"$JOBS" ringlm_engine $TARGETS >"$OUT/build.txt" 2>&1
rc=$?
grep -E "warning|error" "$OUT/build.txt" | grep -v "^\[" | head -40
if [[ $rc -ne 0 ]]; then
  [[ $rc -eq 124 ]] && echo "build timed out (BUILD_TIMEOUT=${BUILD_TIMEOUT:-420} s)"
  echo "build FAILED (rc=$rc); first errors:"; grep -B2 -A10 -m5 -E "error|FAILED" "$OUT/build.txt" | head -80
  exit 1
fi
tail -1 "$OUT/build.txt"

if [[ $PHASE != 2 ]]; then
# --- tests ---
step "ctest -L gpu"
export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
# Full output in ctest.txt; the log gets its tail.
timeout 150 ctest --test-dir "$BUILD" -L gpu -j4 --output-on-failure --timeout 140 >"$OUT/ctest.txt" 2>&1
rc=$?
tail -250 "$OUT/ctest.txt"
[[ $rc -ne 0 ]] && { echo "GPU tests FAILED (rc=$rc)"; STATUS=1; }

step "cp_ring_test [gpu]: the ring on the CUDA backend (N ranks on one GPU over Gloo, staged and on the device-Comm path, f32 and bf16 KV)"
# Full output in cp_ring_test.txt; the log gets its tail.
RINGLM_SOURCE_DIR=$ROOT RINGLM_BINARY_DIR=$BUILD timeout 180 "$BUILD/bin/cp_ring_test" "[gpu]" >"$OUT/cp_ring_test.txt" 2>&1
rc=$?
tail -15 "$OUT/cp_ring_test.txt"
[[ $rc -ne 0 ]] && { echo "cp_ring_test [gpu] FAILED (rc=$rc)"; STATUS=1; }


fi  # phase 1

if [[ $PHASE != 1 ]]; then
step "ringlm bench model (Llama-3-8B shape, random weights, one GPU)"
timeout "${MODEL_BENCH_TIMEOUT:-150}" "$BUILD/bin/ringlm" bench model --shape llama3-8b --backend cuda \
  --tokens "${MODEL_BENCH_TOKENS:-32768,131072}" --chunk 16384 --page-tokens 256 --decode-tokens 16 \
  --peak-tflops "${PEAK_TFLOPS:-989}" || echo "bench model: rc=$?"
# By default a second run measures decode with the grouped attention kernel
# (RINGLM_CUDA_GROUPED_ATTENTION=1: one K/V read per KV group), against the
# first run's generic kernel; prefill is the same in both (the tensor-core
# path). MODEL_BENCH_EXTRA="" skips it; other flags run another comparison
# (e.g. "--kv-type f32 --tokens 131072 ..." for the f32 KV cache).
MODEL_BENCH_EXTRA=${MODEL_BENCH_EXTRA---tokens 32768,131072 --warm 0 --chunk 16384 --page-tokens 256 --decode-tokens 16}
if [[ -n ${MODEL_BENCH_EXTRA} ]]; then
  step "RINGLM_CUDA_GROUPED_ATTENTION=${MODEL_BENCH_GROUPED:-1} ringlm bench model $MODEL_BENCH_EXTRA"
  # shellcheck disable=SC2086  # the extra flags are meant to split
  RINGLM_CUDA_GROUPED_ATTENTION=${MODEL_BENCH_GROUPED:-1} \
    timeout "${MODEL_BENCH_TIMEOUT:-150}" "$BUILD/bin/ringlm" bench model --shape llama3-8b --backend cuda \
    --peak-tflops "${PEAK_TFLOPS:-989}" $MODEL_BENCH_EXTRA || echo "bench model: rc=$?"
fi

step "ringlm bench ring (ring attention alone, key-run cutting never / auto / always; 2 ranks sharing the GPU)"
timeout "${RING_BENCH_TIMEOUT:-90}" "$BUILD/bin/ringlm" bench ring --backend cuda \
  --tokens "${RING_BENCH_TOKENS:-65536}" --ranks 2 --reps 3 || echo "bench ring: rc=$?"

step "cp_engine_test on the CUDA backend (N ranks on one GPU in one process, host-staged through shared memory)"
RINGLM_TEST_BACKEND=cuda RINGLM_SOURCE_DIR=$ROOT RINGLM_BINARY_DIR=$BUILD \
  timeout 120 "$BUILD/bin/cp_engine_test" 2>&1 | tail -40
[[ ${PIPESTATUS[0]} -ne 0 ]] && { echo "cp_engine_test (cuda) FAILED"; STATUS=1; }

step "cp_engine_test with the grouped attention kernel (RINGLM_CUDA_GROUPED_ATTENTION=1)"
RINGLM_CUDA_GROUPED_ATTENTION=1 RINGLM_TEST_BACKEND=cuda RINGLM_SOURCE_DIR=$ROOT RINGLM_BINARY_DIR=$BUILD \
  timeout 120 "$BUILD/bin/cp_engine_test" 2>&1 | tail -20
[[ ${PIPESTATUS[0]} -ne 0 ]] && { echo "cp_engine_test (cuda, grouped) FAILED"; STATUS=1; }

step "session rewind, fork and prefix sharing on the CUDA backend (KV pages copied on the device)"
for t in engine_session_edit_test prefix_sharing_test; do
  RINGLM_TEST_BACKEND=cuda RINGLM_SOURCE_DIR=$ROOT RINGLM_BINARY_DIR=$BUILD \
    timeout 90 "$BUILD/bin/$t" "~[budget]" 2>&1 | tail -30
  [[ ${PIPESTATUS[0]} -ne 0 ]] && { echo "$t (cuda) FAILED"; STATUS=1; }
done

step "GPU vs CPU greedy tokens (default model's first layers)"
if compgen -G ".gpumodel/*.gguf" >/dev/null; then
  M=$(ls .gpumodel/*.gguf | head -1)
  # Each KV element type on both backends: CPU and GPU greedy tokens must agree.
  for kv in f32 bf16; do
  for p in "The capital of France is" "def fibonacci(n):" "Once upon a time, in a small village,"; do
    rm -f "$OUT/cpu.f32" "$OUT/gpu.f32"
    c=$(timeout 60 "$BUILD/bin/ringlm" generate --model "$M" --kv-type $kv --prompt "$p" --max-tokens 12 --json --logits-out "$OUT/cpu.f32" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"])') || c=
    g=$(timeout 60 "$BUILD/bin/ringlm" generate --backend cuda --model "$M" --kv-type $kv --prompt "$p" --max-tokens 12 --json --logits-out "$OUT/gpu.f32" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"])') || g=
    d=$(python3 -c 'import numpy as n; a=n.fromfile("'"$OUT"'/cpu.f32",n.float32); b=n.fromfile("'"$OUT"'/gpu.f32",n.float32); print("max|dlogit| %.4f of max|logit| %.2f" % (abs(a-b).max(), abs(a).max()))')
    echo "prompt ($kv KV): $p"; echo "  cpu $c"; echo "  gpu $g"; echo "  $d"
    if [[ -z "$c" || -z "$g" ]]; then
      echo "  a generate run FAILED"; STATUS=1
    elif [[ "$c" == "$g" ]]; then
      echo "  greedy tokens equal"
    else
      echo "  greedy tokens DIFFER"; STATUS=1
    fi
  done
  done
else
  echo ".gpumodel/ not carried: skipped"
fi
fi  # phase 2

# --- attention benchmarks: last, so that a short command keeps the checks ---
if [[ $PHASE != 2 && ${SKIP_ATTN_BENCH:-0} != 1 ]]; then
if (( SECONDS > ${ATTN_BENCH_UNTIL_S:-100000} )); then
  step "attention benchmarks skipped: ${SECONDS}s passed, ATTN_BENCH_UNTIL_S=${ATTN_BENCH_UNTIL_S}"
else
step "bench_attention (ours)"
if [[ -x "$BUILD/bin/bench_attention" ]]; then
  timeout 75 "$BUILD/bin/bench_attention" --budget-s "${ATTN_BUDGET:-55}" || echo "bench_attention: rc=$?"
fi
step "bench_torch_sdpa.py (torch SDPA: flash / efficient / cudnn)"
# The torch run must not see the unpacked Debian libraries.
env LD_LIBRARY_PATH="$ORIG_LD_LIBRARY_PATH" PYTHONUNBUFFERED=1 \
  timeout 75 python3 tools/gpu/bench_torch_sdpa.py --budget-s "${ATTN_BUDGET:-55}" || echo "bench_torch_sdpa: rc=$?"
fi
fi  # SKIP_ATTN_BENCH

step "done: status $STATUS"
exit $STATUS
