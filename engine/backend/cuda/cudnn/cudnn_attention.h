// Fused attention with LSE through cuDNN's SDPA graphs (cuDNN 9, through the
// header-only cuDNN frontend), for the CUDA backend.
//
// cuDNN is optional at build time and at run time: the build includes this
// file only where the frontend headers and cudnn.h were found
// (RINGLM_HAVE_CUDNN), and libcudnn is loaded with dlopen on first use, so a
// machine without it runs ringlm's own attention kernel instead.
//
// What it computes (bf16 in, bf16 O, f32 stats), per query head h, KV head
// g = h / (hq / hkv), for the query rows i < tq and key rows j < tk:
//   s_ij = scale * <q[i,h,:], k[j,g,:]>, masked to the keys the mask allows
//   stats[h, i] = log(sum_j exp(s_ij))        (natural log; cuDNN's Stats)
//   o[i, h, :]  = sum_j exp(s_ij - stats) v[j, g, :]
// Masks: kNone (every key), kCausalTopLeft (j <= i), kCausalBottomRight
// (j <= i + tk - tq); both causal masks require tq <= tk. Every row must see at least one key
// (cuDNN has no "empty row" result): the caller routes other layouts to its
// own kernel.
//
// Graphs are built per shape (tq, tk, heads, d, scale, mask) and kept in a
// small LRU cache; the first call of a shape pays the plan build. From
// cuDNN 9.4 on they are dynamic-shape graphs sharing one kernel cache, so a
// new size of a known shape reuses the compiled kernels (plain static graphs
// where that build fails).
// A shape cuDNN refuses is remembered as refused, so the caller falls back at
// once the next time.
//
// Thread-safety: one thread at a time per object (as for the Backend).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace ringlm {

enum class CudnnMask : uint8_t { kNone, kCausalTopLeft, kCausalBottomRight };

struct CudnnAttentionShape {
  int64_t tq = 0;
  int64_t tk = 0;
  int hq = 0;
  int hkv = 0;
  int d = 0;
  float scale = 0.f;
  CudnnMask mask = CudnnMask::kNone;
};

// Loads libcudnn once per process: $RINGLM_CUDNN_LIBRARY when set, else
// libcudnn.so.9 from the loader's search path. kUnavailable (with dlerror's
// text) when it is absent or older than cuDNN 9.0; the answer is cached.
Status cudnn_load();

// The loaded cuDNN version as cuDNN numbers it (91900 for 9.19.0); 0 when not loaded.
int64_t cudnn_loaded_version();

class CudnnAttention {
 public:
  // A cuDNN handle bound to `stream` on the current device. kUnavailable
  // when cuDNN cannot be loaded, kInternal when the handle cannot be made.
  static Result<std::unique_ptr<CudnnAttention>> Create(cudaStream_t stream);
  ~CudnnAttention();
  CudnnAttention(const CudnnAttention&) = delete;
  CudnnAttention& operator=(const CudnnAttention&) = delete;

  // Builds (or finds) the plan of `s` and returns its device workspace size.
  // kUnsupported when cuDNN has no engine for the shape (the message says
  // why), kInvalidArgument for a malformed shape.
  Result<size_t> prepare(const CudnnAttentionShape& s);

  // Enqueues the attention of a prepared shape on the stream. Layouts:
  // q, o [tq, hq, d] bf16; k, v [tk, hkv, d] bf16 (16-byte aligned);
  // stats [hq, tq] f32. `workspace` holds at least prepare(s) bytes
  // (nullptr when that is 0) and stays untouched by other work until the
  // stream reaches this call.
  Status run(const CudnnAttentionShape& s, const void* q, const void* k, const void* v, void* o,
             float* stats, void* workspace);

  // Plans built so far (cache misses) and the milliseconds spent building
  // them, for tests and benchmarks.
  int64_t plans_built() const;
  double plan_build_ms() const;
  // Whether plans are built as dynamic-shape graphs with a kernel cache, and
  // cuDNN's message when a dynamic-shape build failed where a static one worked.
  bool dynamic_shapes() const;
  const std::string& dynamic_shape_failure() const;

 private:
  struct Impl;
  explicit CudnnAttention(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringlm
