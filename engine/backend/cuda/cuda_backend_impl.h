// CudaBackend's class, shared by its source files: cuda_backend.cc
// (lifecycle, memory, weights, element-wise ops), cuda_backend_gemm.cc (the
// GEMMs and their fused forms) and cuda_backend_attention.cc (attention
// dispatch: cuDNN or ringlm's kernels, key blocks, the page gather, the LSE
// merge). Private to engine/backend/cuda; the public face is cuda_backend.h.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/cuda_backend.h"
#if RINGLM_HAVE_CUDNN
#include "backend/cuda/cudnn/cudnn_attention.h"
#endif

namespace ringlm::cuda_internal {

// Frees device memory of any device: the pointer's own device is made current
// for the call, then the caller's device is restored.
void free_device(void* p);

class CudaWeight final : public Weight {
 public:
  CudaWeight(int64_t rows, int64_t cols, Buffer data)
      : Weight(rows, cols), data_(std::move(data)) {}
  const uint16_t* data() const { return data_.as<uint16_t>(); }  // [rows, cols] bf16
  uint16_t* data() { return data_.as<uint16_t>(); }

 private:
  Buffer data_;
};

class CudaBackend final : public Backend {
 public:
  static Result<std::unique_ptr<Backend>> Create(int device, const CudaBackendOptions& options);

  ~CudaBackend() override;

  cudaStream_t stream() const { return stream_; }
  CudaAttentionCounts attention_counts() const;
  const std::string& cudnn_status() const { return cudnn_status_; }

  std::string_view name() const override { return "cuda"; }
  bool host_memory() const override { return false; }

  // --- memory ---
  Result<Buffer> alloc(size_t bytes) override;

  Status copy_from_host(void* dst, const void* src, size_t n) override;
  Status copy_to_host(void* dst, const void* src, size_t n) override;
  Status copy(void* dst, const void* src, size_t n) override;
  Status fill(float* dst, float value, int64_t n) override;
  Status zero(void* dst, size_t bytes) override;
  Status synchronize() override;
  Status store_kv(const float* src, void* dst, kernels::KvType t, int64_t n) override;

  // --- timing: CUDA events on the compute stream, reused after release_marks() ---
  Result<int> mark() override;
  Result<double> elapsed_ms(int a, int b) override;
  void release_marks() override { marks_used_ = 0; }

  // --- weights ---
  Result<std::unique_ptr<Weight>> make_weight(const float* host, int64_t rows,
                                              int64_t cols) override;

  // --- ops ---
  Status matmul(const float* x, const Weight& w, const float* bias, float* y, int64_t m) override;

  Status matmul_add(const float* x, const Weight& w, float* y, int64_t m) override;

  Status swiglu_matmul_add(float* gate, const float* up, const Weight& w, float* y,
                           int64_t m) override;

  Status embedding(const Weight& table, const int32_t* ids, float* out, int64_t n) override;

  Status rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t dim,
                 float eps) override;

  Status rope(float* x, const int32_t* pos, int64_t rows, int heads,
              const kernels::RopeConfig& cfg) override;

  Status swiglu(const float* gate, const float* up, float* out, int64_t n) override;

  Status add(float* y, const float* x, int64_t n) override;

  Status attention_partial(const kernels::AttentionParams& p) override;

  bool has_attention_blocks() const override { return true; }

  Status attention_partial_blocks(const kernels::AttentionParams& p,
                                  const kernels::KeyBlock* blocks, size_t n) override;

  Status gather_blocks(const kernels::KeyBlock* blocks, size_t n, int64_t row_bytes, void* k,
                       void* v, int32_t* pos) override;

  Status merge_partials(const kernels::MergeParams& p) override;

 private:
  enum ScratchSlot {
    kScratchX,
    kScratchIds,
    kScratchRope,
    kScratchAttn,
    kScratchStage,
    kScratchCudnnIo,
    kScratchCudnnWs,
    kScratchBlocks,
    kScratchGather,
    kScratchCount
  };

  // y[m, n] = A W^T + beta * y with A = x, or A = swiglu(x, up) when up is
  // given, rounded to bf16 into the kScratchX buffer; bf16 W, f32 y, f32
  // compute (cublasGemmEx). A plain x that is the same (pointer, size) as the
  // previous GEMM's, with no other op in between, is not converted again: the
  // q/k/v and gate/up projections share one conversion.
  Status gemm(const float* x, const float* up, const Weight& w, float* y, int64_t m, float beta);

  // Every op but the GEMMs may write memory a cached x lives in.
  void invalidate_x_cache() { x_cache_.valid = false; }

  // Fewest query rows worth a cuDNN call (shorter blocks are decode-like:
  // the kernel's key-split path serves them better).
  static constexpr int64_t kCudnnMinRows = 64;

  // Serves p through cuDNN when it applies: true when done, false when the
  // caller should use the kernel. Errors only for failures that leave the
  // call undone (CUDA errors, a failed cuDNN execution).
  Result<bool> cudnn_attention(const kernels::AttentionParams& p);
  struct Scratch {
    void* ptr = nullptr;
    size_t bytes = 0;
  };

  explicit CudaBackend(int device) : device_(device) {}

  Status init();

  Status use_device();

  // Device scratch of at least `bytes` for one purpose. Growing does not wait
  // for the stream: the outgrown block (queued work may still read it) is
  // retired and freed at the next synchronize(), or at once, after a
  // synchronisation, when the new block does not fit otherwise. (cudaFree
  // synchronises the whole device, so freeing inside a CP ring step would
  // also wait for the transfers in flight.)
  Result<void*> scratch(ScratchSlot slot, size_t bytes);
  // Frees the retired scratch blocks; the stream must be idle.
  void free_retired();

  // The RoPE inverse frequencies of `cfg` on the device; uploaded again only
  // when they differ from the last upload (configs are compared by value, so
  // every scaling input counts).
  Result<const float*> upload_inv_freq(const kernels::RopeConfig& cfg);

  int device_;
  int sm_count_ = 0;
  // RINGLM_CUDA_GROUPED_ATTENTION=1: the grouped f32 kernel (one K/V read per
  // KV group) wherever the generic one would run (kernels/cuda/attention_partial.h).
  bool grouped_attention_ = false;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::array<Scratch, kScratchCount> scratch_{};
  std::vector<void*> retired_;  // outgrown scratch blocks, freed by free_retired()
  std::vector<int32_t> ids_host_;
  std::vector<float> rope_host_;
  std::vector<int32_t> pos_host_;
  struct XCache {
    bool valid = false;
    const float* x = nullptr;
    int64_t elems = 0;
  } x_cache_;
  CudaAttentionCounts counts_;
  std::vector<cudaEvent_t> marks_;  // events of mark(); the first marks_used_ are recorded
  int marks_used_ = 0;
  std::string cudnn_status_;  // why cuDNN attention is not used; "" while it may be
#if RINGLM_HAVE_CUDNN
  std::unique_ptr<CudnnAttention> cudnn_;
#endif
};

}  // namespace ringlm::cuda_internal
