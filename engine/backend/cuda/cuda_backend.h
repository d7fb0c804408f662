// CudaBackend: the Backend on one CUDA device.
//
// Memory: alloc() returns device memory (cudaMalloc); every op pointer is a
// device pointer, except the token ids of embedding(), which are host memory
// (as the Backend contract says). Weights are stored bf16 (converted from the
// host f32 rows at make_weight, on the device); activations stay f32.
//
// Ordering: all ops are enqueued on the backend's own compute stream (a
// non-blocking stream) in call order and return once enqueued;
// synchronize() waits for them and reports any asynchronous failure.
// copy_from_host() and copy_to_host() return after the copy completed, so the
// host buffer may be reused (or read) at once. copy() and fill() are enqueued.
//
// GEMMs: cublasGemmEx with bf16 A/B, f32 C and f32 compute; the f32
// activations are rounded to bf16 in a scratch buffer first, so matmul agrees
// with the f32 CPU backend to bf16 precision (about 1e-2 relative).
// Attention: cuDNN's fused attention (backend/cuda/cudnn/cudnn_attention.h)
// where the build has it, libcudnn loads, and the call's positions form a
// layout it expresses (>= 64 query rows; contiguous query and key positions;
// no mask, causal top-left or causal bottom-right); otherwise
// kernels/cuda/attention_partial.h (tensor cores for head dims 64 and 128, a
// generic f32 path for any other head dim up to 256; larger head dims give
// kUnsupported). Choosing cuDNN reads the call's host copies of its positions
// (AttentionParams::q_pos_host / k_pos_host); a call without them copies its
// positions to the host (one stream synchronisation per call).
//
// Errors: every CUDA / cuBLAS failure becomes a Status (cuda_status.h).
// Thread-safety: one thread at a time, as for every Backend. Each call makes
// the backend's device current on the calling thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backend/backend.h"

namespace ringlm {

// Number of CUDA devices usable by this process; 0 when there is no driver,
// no GPU, or the runtime cannot initialise. Never fails, never aborts.
int cuda_device_count();

struct CudaBackendOptions {
  // Use cuDNN's fused attention where it applies. The environment variable
  // RINGLM_CUDNN_ATTENTION=0 turns it off for every backend.
  bool cudnn_attention = true;
};

// A CudaBackend on `device`. kUnavailable when there is no such device (or no
// driver); a CUDA / cuBLAS failure while setting up becomes its Status.
// cuDNN is loaded on the first attention call that could use it; when it
// cannot be loaded, attention runs on ringlm's kernel (no error).
Result<std::unique_ptr<Backend>> make_cuda_backend(int device, const CudaBackendOptions& options = {});

// How a CudaBackend's attention calls were served so far (tests, benchmarks).
struct CudaAttentionCounts {
  int64_t cudnn = 0;         // by cuDNN's fused attention
  int64_t kernel = 0;        // by kernels/cuda/attention_partial
  int64_t cudnn_plans = 0;   // cuDNN plans built (one per new shape)
  double cudnn_plan_ms = 0;  // time spent building them
  bool cudnn_dynamic = false;  // plans are dynamic-shape graphs sharing a kernel cache
  int64_t position_readbacks = 0;  // calls that read positions back to plan (no host copies given)
};
// Zeros for any other backend.
CudaAttentionCounts cuda_backend_attention_counts(const Backend& backend);

// Why cuDNN attention is not in use on this backend ("" while it is usable or
// not yet tried): not built, turned off, or the load failure's message.
std::string cuda_backend_cudnn_status(const Backend& backend);

// The compute stream (a cudaStream_t) of a backend made by make_cuda_backend,
// for code that orders its own device work after the backend's ops (NcclComm).
// nullptr for any other backend.
void* cuda_backend_stream(const Backend& backend);

}  // namespace ringlm
