#include "backend/cuda/cuda_backend.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backend/cuda/cuda_backend_impl.h"
#include "backend/cuda/cuda_status.h"
#include "cpu/rope.h"
#include "cuda/add.h"
#include "cuda/convert.h"
#include "cuda/embedding.h"
#include "cuda/fill.h"
#include "cuda/rmsnorm.h"
#include "cuda/rope.h"
#include "cuda/swiglu.h"

namespace ringlm {
namespace cuda_internal {
namespace {

namespace kc = kernels::cuda;

// Elements converted per step of make_weight (64 MiB of f32 staging).
constexpr int64_t kStageElems = int64_t(16) << 20;

}  // namespace

void free_device(void* p) {
  if (!p) return;
  cudaPointerAttributes attr{};
  int prev = -1;
  if (cudaPointerGetAttributes(&attr, p) == cudaSuccess && cudaGetDevice(&prev) == cudaSuccess &&
      attr.device != prev) {
    (void)cudaSetDevice(attr.device);
    (void)cudaFree(p);
    (void)cudaSetDevice(prev);
  } else {
    (void)cudaFree(p);
  }
  (void)cudaGetLastError();
}

Result<std::unique_ptr<Backend>> CudaBackend::Create(int device,
                                                     const CudaBackendOptions& options) {
  const int n = cuda_device_count();
  if (device < 0 || device >= n)
    return Unavailable("cuda backend: device " + std::to_string(device) + " not present (" +
                       std::to_string(n) + " CUDA device(s))");
  std::unique_ptr<CudaBackend> b(new CudaBackend(device));
  const char* env = std::getenv("RINGLM_CUDNN_ATTENTION");
  const bool env_off = env && std::string_view(env) == "0";
  if (!RINGLM_HAVE_CUDNN) {
    b->cudnn_status_ = "not built (no cuDNN headers or frontend at build time)";
  } else if (!options.cudnn_attention || env_off) {
    b->cudnn_status_ = env_off ? "turned off (RINGLM_CUDNN_ATTENTION=0)" : "turned off (options)";
  }
  const char* grouped = std::getenv("RINGLM_CUDA_GROUPED_ATTENTION");
  b->grouped_attention_ = grouped && std::string_view(grouped) == "1";
  RINGLM_RETURN_IF_ERROR(b->init());
  return std::unique_ptr<Backend>(std::move(b));
}

CudaBackend::~CudaBackend() {
  if (cudaSetDevice(device_) == cudaSuccess && stream_) (void)cudaStreamSynchronize(stream_);
#if RINGLM_HAVE_CUDNN
  cudnn_.reset();  // its handle is bound to stream_
#endif
  for (auto& s : scratch_) free_device(s.ptr);
  free_retired();
  for (cudaEvent_t e : marks_) (void)cudaEventDestroy(e);
  if (cublas_) cublasDestroy(cublas_);
  if (stream_) cudaStreamDestroy(stream_);
  (void)cudaGetLastError();
}

Result<Buffer> CudaBackend::alloc(size_t bytes) {
  invalidate_x_cache();
  RINGLM_RETURN_IF_ERROR(use_device());
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, std::max<size_t>(bytes, 256));
  if (e != cudaSuccess)
    return cuda_error_status(e, ("cudaMalloc of " + std::to_string(bytes) + " bytes").c_str(),
                             __FILE__, __LINE__);
  return Buffer(p, bytes, &free_device);
}

Status CudaBackend::copy_from_host(void* dst, const void* src, size_t n) {
  invalidate_x_cache();
  if (n == 0) return Status::Ok();
  RINGLM_RETURN_IF_ERROR(use_device());
  RINGLM_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream_));
  RINGLM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  return Status::Ok();
}

Status CudaBackend::copy_to_host(void* dst, const void* src, size_t n) {
  if (n == 0) return Status::Ok();
  RINGLM_RETURN_IF_ERROR(use_device());
  RINGLM_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream_));
  RINGLM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  return Status::Ok();
}

Status CudaBackend::copy(void* dst, const void* src, size_t n) {
  invalidate_x_cache();
  if (n == 0 || dst == src) return Status::Ok();
  RINGLM_RETURN_IF_ERROR(use_device());
  RINGLM_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream_));
  return Status::Ok();
}

Status CudaBackend::fill(float* dst, float value, int64_t n) {
  invalidate_x_cache();
  RINGLM_RETURN_IF_ERROR(use_device());
  RINGLM_CUDA_RETURN_IF_ERROR(kc::fill(dst, value, n, stream_));
  return Status::Ok();
}

Status CudaBackend::zero(void* dst, size_t bytes) {
  invalidate_x_cache();
  if (bytes == 0) return Status::Ok();
  RINGLM_RETURN_IF_ERROR(use_device());
  RINGLM_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(dst, 0, bytes, stream_));
  return Status::Ok();
}

Status CudaBackend::store_kv(const float* src, void* dst, kernels::KvType t, int64_t n) {
  if (n <= 0) return Status::Ok();
  if (t == kernels::KvType::kF32) return copy(dst, src, sizeof(float) * size_t(n));
  invalidate_x_cache();
  RINGLM_RETURN_IF_ERROR(use_device());
  RINGLM_CUDA_RETURN_IF_ERROR(kc::f32_to_bf16(src, static_cast<uint16_t*>(dst), n, stream_));
  return Status::Ok();
}

Result<int> CudaBackend::mark() {
  RINGLM_RETURN_IF_ERROR(use_device());
  if (marks_used_ == int(marks_.size())) {
    cudaEvent_t e = nullptr;
    RINGLM_CUDA_RETURN_IF_ERROR(cudaEventCreate(&e));
    marks_.push_back(e);
  }
  RINGLM_CUDA_RETURN_IF_ERROR(cudaEventRecord(marks_[size_t(marks_used_)], stream_));
  return marks_used_++;
}

Result<double> CudaBackend::elapsed_ms(int a, int b) {
  if (a < 0 || b < 0 || a >= marks_used_ || b >= marks_used_)
    return InvalidArgument("cuda backend: unknown mark");
  RINGLM_RETURN_IF_ERROR(use_device());
  float ms = 0;
  RINGLM_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, marks_[size_t(a)], marks_[size_t(b)]));
  return double(ms);
}

Status CudaBackend::synchronize() {
  RINGLM_RETURN_IF_ERROR(use_device());
  RINGLM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  free_retired();
  return Status::Ok();
}

void CudaBackend::free_retired() {
  for (void* p : retired_) free_device(p);
  retired_.clear();
}

Result<std::unique_ptr<Weight>> CudaBackend::make_weight(const float* host, int64_t rows,
                                                         int64_t cols) {
  invalidate_x_cache();
  if (rows < 0 || cols < 0 || (rows * cols > 0 && !host))
    return InvalidArgument("cuda backend: make_weight needs rows, cols >= 0 and data");
  RINGLM_RETURN_IF_ERROR(use_device());
  const int64_t n = rows * cols;
  RINGLM_ASSIGN_OR_RETURN(Buffer buf, alloc(sizeof(uint16_t) * size_t(std::max<int64_t>(n, 1))));
  auto w = std::make_unique<CudaWeight>(rows, cols, std::move(buf));
  // Upload the f32 rows in chunks through a staging buffer and round to bf16
  // on the device; stream order keeps a chunk from being overwritten early.
  for (int64_t off = 0; off < n; off += kStageElems) {
    const int64_t len = std::min(kStageElems, n - off);
    RINGLM_ASSIGN_OR_RETURN(void* stage, scratch(kScratchStage, sizeof(float) * size_t(len)));
    RINGLM_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(stage, host + off, sizeof(float) * size_t(len),
                                                cudaMemcpyHostToDevice, stream_));
    RINGLM_CUDA_RETURN_IF_ERROR(
        kc::f32_to_bf16(static_cast<const float*>(stage), w->data() + off, len, stream_));
  }
  // The host rows may be freed once we return.
  RINGLM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  return std::unique_ptr<Weight>(std::move(w));
}

Status CudaBackend::embedding(const Weight& table, const int32_t* ids, float* out, int64_t n) {
  invalidate_x_cache();
  const auto* cw = dynamic_cast<const CudaWeight*>(&table);
  if (!cw) return InvalidArgument("cuda backend: embedding table was not made by this backend");
  if (n <= 0) return Status::Ok();
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= table.rows())
      return InvalidArgument("token id " + std::to_string(ids[i]) + " outside vocabulary of " +
                             std::to_string(table.rows()));
  }
  RINGLM_RETURN_IF_ERROR(use_device());
  // The ids go through a pageable member copy: cudaMemcpyAsync stages
  // pageable memory before it returns, so neither buffer is read later.
  ids_host_.assign(ids, ids + n);
  RINGLM_ASSIGN_OR_RETURN(void* dids, scratch(kScratchIds, sizeof(int32_t) * size_t(n)));
  RINGLM_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dids, ids_host_.data(), sizeof(int32_t) * size_t(n),
                                              cudaMemcpyHostToDevice, stream_));
  RINGLM_CUDA_RETURN_IF_ERROR(kc::embedding_bf16(cw->data(), static_cast<const int32_t*>(dids), out,
                                                 n, table.cols(), stream_));
  return Status::Ok();
}

Status CudaBackend::rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t dim,
                            float eps) {
  invalidate_x_cache();
  RINGLM_RETURN_IF_ERROR(use_device());
  RINGLM_CUDA_RETURN_IF_ERROR(kc::rmsnorm(x, w, y, rows, dim, eps, stream_));
  return Status::Ok();
}

Status CudaBackend::rope(float* x, const int32_t* pos, int64_t rows, int heads,
                         const kernels::RopeConfig& cfg) {
  invalidate_x_cache();
  if (cfg.rot_dim <= 0 || cfg.rot_dim > cfg.head_dim || cfg.rot_dim % 2 != 0)
    return InvalidArgument("cuda backend: rope needs 0 < rot_dim <= head_dim, rot_dim even");
  RINGLM_RETURN_IF_ERROR(use_device());
  RINGLM_ASSIGN_OR_RETURN(const float* inv_freq, upload_inv_freq(cfg));
  RINGLM_CUDA_RETURN_IF_ERROR(kc::rope(x, pos, rows, heads, cfg, inv_freq, stream_));
  return Status::Ok();
}

Status CudaBackend::swiglu(const float* gate, const float* up, float* out, int64_t n) {
  invalidate_x_cache();
  RINGLM_RETURN_IF_ERROR(use_device());
  RINGLM_CUDA_RETURN_IF_ERROR(kc::swiglu(gate, up, out, n, stream_));
  return Status::Ok();
}

Status CudaBackend::add(float* y, const float* x, int64_t n) {
  invalidate_x_cache();
  RINGLM_RETURN_IF_ERROR(use_device());
  RINGLM_CUDA_RETURN_IF_ERROR(kc::add(y, x, n, stream_));
  return Status::Ok();
}

Status CudaBackend::init() {
  RINGLM_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
  RINGLM_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  RINGLM_CUDA_RETURN_IF_ERROR(
      cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device_));
  RINGLM_CUBLAS_RETURN_IF_ERROR(cublasCreate(&cublas_));
  RINGLM_CUBLAS_RETURN_IF_ERROR(cublasSetStream(cublas_, stream_));
  return Status::Ok();
}

Status CudaBackend::use_device() {
  int cur = -1;
  RINGLM_CUDA_RETURN_IF_ERROR(cudaGetDevice(&cur));
  if (cur != device_) RINGLM_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
  return Status::Ok();
}

Result<void*> CudaBackend::scratch(ScratchSlot slot, size_t bytes) {
  Scratch& s = scratch_[slot];
  if (s.bytes >= bytes && s.ptr) return s.ptr;
  const size_t want = std::max<size_t>({bytes, s.bytes + s.bytes / 2, 4096});
  if (s.ptr) retired_.push_back(s.ptr);
  s.ptr = nullptr;
  s.bytes = 0;
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, (want + 255) / 256 * 256);
  if (e == cudaErrorMemoryAllocation && !retired_.empty()) {
    (void)cudaGetLastError();
    RINGLM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    free_retired();
    e = cudaMalloc(&p, (want + 255) / 256 * 256);
  }
  if (e != cudaSuccess)
    return cuda_error_status(e,
                             ("scratch cudaMalloc of " + std::to_string(want) + " bytes").c_str(),
                             __FILE__, __LINE__);
  s.ptr = p;
  s.bytes = want;
  return p;
}

Result<const float*> CudaBackend::upload_inv_freq(const kernels::RopeConfig& cfg) {
  std::vector<float> inv = kernels::cpu::rope_inv_freq(cfg);
  if (inv.size() < size_t(cfg.rot_dim / 2))
    return Internal("rope_inv_freq returned " + std::to_string(inv.size()) + " frequencies");
  const size_t bytes = sizeof(float) * inv.size();
  if (inv != rope_host_ || !scratch_[kScratchRope].ptr) {
    RINGLM_ASSIGN_OR_RETURN(void* d, scratch(kScratchRope, bytes));
    // Pageable source: staged before cudaMemcpyAsync returns; stream order
    // keeps earlier rope kernels on the previous values. The cache names
    // what the device holds only once the copy is queued.
    rope_host_.clear();
    RINGLM_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(d, inv.data(), bytes, cudaMemcpyHostToDevice, stream_));
    rope_host_ = std::move(inv);
  }
  return static_cast<const float*>(scratch_[kScratchRope].ptr);
}

}  // namespace cuda_internal

using cuda_internal::CudaBackend;

int cuda_device_count() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

Result<std::unique_ptr<Backend>> make_cuda_backend(int device, const CudaBackendOptions& options) {
  return CudaBackend::Create(device, options);
}

CudaAttentionCounts cuda_backend_attention_counts(const Backend& backend) {
  const auto* b = dynamic_cast<const CudaBackend*>(&backend);
  return b ? b->attention_counts() : CudaAttentionCounts{};
}

std::string cuda_backend_cudnn_status(const Backend& backend) {
  const auto* b = dynamic_cast<const CudaBackend*>(&backend);
  return b ? b->cudnn_status() : std::string("not a CUDA backend");
}

void* cuda_backend_stream(const Backend& backend) {
  const auto* b = dynamic_cast<const CudaBackend*>(&backend);
  return b ? static_cast<void*>(b->stream()) : nullptr;
}

}  // namespace ringlm
