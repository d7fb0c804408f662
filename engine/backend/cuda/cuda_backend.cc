#include "backend/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backend/cuda/cuda_status.h"
#include "cpu/rope.h"
#include "cuda/add.h"
#include "cuda/attention_partial.h"
#include "cuda/convert.h"
#include "cuda/embedding.h"
#include "cuda/fill.h"
#include "cuda/gather_blocks.h"
#include "cuda/merge_partials.h"
#include "cuda/rmsnorm.h"
#include "cuda/rope.h"
#include "cuda/swiglu.h"
#include "cuda/transpose.h"
#if RINGLM_HAVE_CUDNN
#include "backend/cuda/cudnn/cudnn_attention.h"
#endif

namespace ringlm {
namespace {

namespace kc = kernels::cuda;

// Frees device memory of any device: the pointer's own device is made current
// for the call, then the caller's device is restored.
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

class CudaWeight final : public Weight {
 public:
  CudaWeight(int64_t rows, int64_t cols, Buffer data) : Weight(rows, cols), data_(std::move(data)) {}
  const uint16_t* data() const { return data_.as<uint16_t>(); }  // [rows, cols] bf16
  uint16_t* data() { return data_.as<uint16_t>(); }

 private:
  Buffer data_;
};

// Elements converted per step of make_weight (64 MiB of f32 staging).
constexpr int64_t kStageElems = int64_t(16) << 20;

class CudaBackend final : public Backend {
 public:
  static Result<std::unique_ptr<Backend>> Create(int device, const CudaBackendOptions& options) {
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
    RINGLM_RETURN_IF_ERROR(b->init());
    return std::unique_ptr<Backend>(std::move(b));
  }

  ~CudaBackend() override {
    if (cudaSetDevice(device_) == cudaSuccess && stream_) (void)cudaStreamSynchronize(stream_);
#if RINGLM_HAVE_CUDNN
    cudnn_.reset();  // its handle is bound to stream_
#endif
    for (auto& s : scratch_) free_device(s.ptr);
    if (cublas_) cublasDestroy(cublas_);
    if (stream_) cudaStreamDestroy(stream_);
    (void)cudaGetLastError();
  }

  cudaStream_t stream() const { return stream_; }
  CudaAttentionCounts attention_counts() const {
    CudaAttentionCounts c = counts_;
#if RINGLM_HAVE_CUDNN
    if (cudnn_) {
      c.cudnn_plans = cudnn_->plans_built();
      c.cudnn_plan_ms = cudnn_->plan_build_ms();
      c.cudnn_dynamic = cudnn_->dynamic_shapes();
    }
#endif
    return c;
  }
  const std::string& cudnn_status() const { return cudnn_status_; }

  std::string_view name() const override { return "cuda"; }
  bool host_memory() const override { return false; }

  // --- memory ---
  Result<Buffer> alloc(size_t bytes) override {
    invalidate_x_cache();
    RINGLM_RETURN_IF_ERROR(use_device());
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, std::max<size_t>(bytes, 256));
    if (e != cudaSuccess)
      return cuda_error_status(e, ("cudaMalloc of " + std::to_string(bytes) + " bytes").c_str(),
                               __FILE__, __LINE__);
    return Buffer(p, bytes, &free_device);
  }

  Status copy_from_host(void* dst, const void* src, size_t n) override {
    invalidate_x_cache();
    if (n == 0) return Status::Ok();
    RINGLM_RETURN_IF_ERROR(use_device());
    RINGLM_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream_));
    RINGLM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    return Status::Ok();
  }
  Status copy_to_host(void* dst, const void* src, size_t n) override {
    if (n == 0) return Status::Ok();
    RINGLM_RETURN_IF_ERROR(use_device());
    RINGLM_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream_));
    RINGLM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    return Status::Ok();
  }
  Status copy(void* dst, const void* src, size_t n) override {
    invalidate_x_cache();
    if (n == 0 || dst == src) return Status::Ok();
    RINGLM_RETURN_IF_ERROR(use_device());
    RINGLM_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream_));
    return Status::Ok();
  }
  Status fill(float* dst, float value, int64_t n) override {
    invalidate_x_cache();
    RINGLM_RETURN_IF_ERROR(use_device());
    RINGLM_CUDA_RETURN_IF_ERROR(kc::fill(dst, value, n, stream_));
    return Status::Ok();
  }
  Status synchronize() override {
    RINGLM_RETURN_IF_ERROR(use_device());
    RINGLM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    return Status::Ok();
  }

  // --- weights ---
  Result<std::unique_ptr<Weight>> make_weight(const float* host, int64_t rows,
                                              int64_t cols) override {
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

  // --- ops ---
  Status matmul(const float* x, const Weight& w, const float* bias, float* y, int64_t m) override {
    RINGLM_RETURN_IF_ERROR(gemm(x, nullptr, w, y, m, 0.f));
    if (bias && m > 0 && w.rows() > 0)
      RINGLM_CUDA_RETURN_IF_ERROR(kc::add_bias_rows(y, bias, m, w.rows(), stream_));
    return Status::Ok();
  }

  Status matmul_add(const float* x, const Weight& w, float* y, int64_t m) override {
    return gemm(x, nullptr, w, y, m, 1.f);
  }

  Status swiglu_matmul_add(float* gate, const float* up, const Weight& w, float* y,
                           int64_t m) override {
    return gemm(gate, up, w, y, m, 1.f);
  }

  Status embedding(const Weight& table, const int32_t* ids, float* out, int64_t n) override {
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
    RINGLM_CUDA_RETURN_IF_ERROR(kc::embedding_bf16(cw->data(), static_cast<const int32_t*>(dids),
                                                   out, n, table.cols(), stream_));
    return Status::Ok();
  }

  Status rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t dim,
                 float eps) override {
    invalidate_x_cache();
    RINGLM_RETURN_IF_ERROR(use_device());
    RINGLM_CUDA_RETURN_IF_ERROR(kc::rmsnorm(x, w, y, rows, dim, eps, stream_));
    return Status::Ok();
  }

  Status rope(float* x, const int32_t* pos, int64_t rows, int heads,
              const kernels::RopeConfig& cfg) override {
    invalidate_x_cache();
    if (cfg.rot_dim <= 0 || cfg.rot_dim > cfg.head_dim || cfg.rot_dim % 2 != 0)
      return InvalidArgument("cuda backend: rope needs 0 < rot_dim <= head_dim, rot_dim even");
    RINGLM_RETURN_IF_ERROR(use_device());
    RINGLM_ASSIGN_OR_RETURN(const float* inv_freq, upload_inv_freq(cfg));
    RINGLM_CUDA_RETURN_IF_ERROR(kc::rope(x, pos, rows, heads, cfg, inv_freq, stream_));
    return Status::Ok();
  }

  Status swiglu(const float* gate, const float* up, float* out, int64_t n) override {
    invalidate_x_cache();
    RINGLM_RETURN_IF_ERROR(use_device());
    RINGLM_CUDA_RETURN_IF_ERROR(kc::swiglu(gate, up, out, n, stream_));
    return Status::Ok();
  }

  Status add(float* y, const float* x, int64_t n) override {
    invalidate_x_cache();
    RINGLM_RETURN_IF_ERROR(use_device());
    RINGLM_CUDA_RETURN_IF_ERROR(kc::add(y, x, n, stream_));
    return Status::Ok();
  }

  Status attention_partial(const kernels::AttentionParams& p) override {
    invalidate_x_cache();
    if (p.tq < 0 || p.tk < 0 || p.hq <= 0 || p.hkv <= 0 || p.hq % p.hkv != 0 || p.d <= 0)
      return InvalidArgument("cuda backend: attention shape (tq, tk >= 0; hq a multiple of hkv; d > 0)");
    if (p.tq == 0) return Status::Ok();
    RINGLM_RETURN_IF_ERROR(use_device());
    RINGLM_ASSIGN_OR_RETURN(const bool by_cudnn, cudnn_attention(p));
    if (by_cudnn) {
      ++counts_.cudnn;
      return Status::Ok();
    }
    const kc::AttentionPlan plan = kc::plan_attention(p, sm_count_);
    if (plan.path == kc::AttentionPath::kUnsupported)
      return Unsupported("cuda backend: attention head dim " + std::to_string(p.d) +
                         " (supported: 1..256; tensor cores for 64 and 128)");
    RINGLM_RETURN_IF_ERROR(use_device());
    void* ws = nullptr;
    if (plan.workspace_bytes > 0) {
      RINGLM_ASSIGN_OR_RETURN(ws, scratch(kScratchAttn, plan.workspace_bytes));
    }
    RINGLM_CUDA_RETURN_IF_ERROR(kc::attention_partial(p, plan, ws, stream_));
    ++counts_.kernel;
    return Status::Ok();
  }

  bool has_attention_blocks() const override { return true; }

  Status attention_partial_blocks(const kernels::AttentionParams& p, const kernels::KeyBlock* blocks,
                                  size_t n) override {
    invalidate_x_cache();
    if (p.tq < 0 || p.hq <= 0 || p.hkv <= 0 || p.hq % p.hkv != 0 || p.d <= 0)
      return InvalidArgument("cuda backend: attention shape (tq >= 0; hq a multiple of hkv; d > 0)");
    if (n > size_t(INT32_MAX) || (n > 0 && !blocks))
      return InvalidArgument("cuda backend: key block array (null, or more than 2^31 blocks)");
    for (size_t i = 0; i < n; ++i)
      if (blocks[i].n < 0 || (blocks[i].n > 0 && (!blocks[i].k || !blocks[i].v || !blocks[i].pos)))
        return InvalidArgument("cuda backend: key block with n < 0 or null pointers");
    if (p.tq == 0) return Status::Ok();
    const int nb = int(n);
    const kc::BlocksPlan plan = kc::plan_attention_blocks(p, blocks, nb, sm_count_);
    if (plan.splits <= 0)
      return Unsupported("cuda backend: attention head dim " + std::to_string(p.d) +
                         " (supported: 1..256)");
    RINGLM_RETURN_IF_ERROR(use_device());
    RINGLM_ASSIGN_OR_RETURN(void* ws, scratch(kScratchBlocks, plan.workspace_bytes));
    RINGLM_CUDA_RETURN_IF_ERROR(
        kc::attention_partial_blocks(p, blocks, nb, plan, ws, stream_));
    ++counts_.kernel;
    return Status::Ok();
  }

  Status gather_blocks(const kernels::KeyBlock* blocks, size_t n, int64_t row_floats, float* k,
                       float* v, int32_t* pos) override {
    invalidate_x_cache();
    if (n == 0) return Status::Ok();
    if (!blocks || n > size_t(INT32_MAX) || row_floats <= 0)
      return InvalidArgument("cuda backend: gather_blocks needs blocks and row_floats > 0");
    RINGLM_RETURN_IF_ERROR(use_device());
    RINGLM_ASSIGN_OR_RETURN(void* ws,
                            scratch(kScratchGather, kc::gather_blocks_workspace_bytes(int(n))));
    RINGLM_CUDA_RETURN_IF_ERROR(kc::gather_blocks(blocks, int(n), row_floats, k, v, pos, ws, stream_));
    return Status::Ok();
  }

  Status merge_partials(const kernels::MergeParams& p) override {
    invalidate_x_cache();
    RINGLM_RETURN_IF_ERROR(use_device());
    RINGLM_CUDA_RETURN_IF_ERROR(kc::merge_partials(p, stream_));
    return Status::Ok();
  }

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
  Status gemm(const float* x, const float* up, const Weight& w, float* y, int64_t m, float beta) {
    const auto* cw = dynamic_cast<const CudaWeight*>(&w);
    if (!cw) return InvalidArgument("cuda backend: matmul weight was not made by this backend");
    const int64_t n = w.rows(), k = w.cols();
    if (m < 0) return InvalidArgument("cuda backend: matmul with m < 0");
    if (m == 0 || n == 0) return Status::Ok();
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
      return Unsupported("cuda backend: matmul dimension beyond 2^31");
    RINGLM_RETURN_IF_ERROR(use_device());
    if (k == 0) {
      if (beta == 0.f) return fill(y, 0.f, m * n);
      return Status::Ok();
    }
    const bool reuse = !up && x_cache_.valid && x_cache_.x == x && x_cache_.elems == m * k;
    RINGLM_ASSIGN_OR_RETURN(void* xb, scratch(kScratchX, sizeof(uint16_t) * size_t(m * k)));
    if (!reuse) {
      x_cache_.valid = false;
      if (up) {
        RINGLM_CUDA_RETURN_IF_ERROR(kc::swiglu_bf16(x, up, static_cast<uint16_t*>(xb), m * k, stream_));
      } else {
        RINGLM_CUDA_RETURN_IF_ERROR(kc::f32_to_bf16(x, static_cast<uint16_t*>(xb), m * k, stream_));
      }
    }
    // Row-major y[m, n] = A[m, k] W[n, k]^T is column-major y^T[n, m] = W^T A^T:
    // A = W (column-major k x n, transposed), B = A^T (column-major k x m).
    const float alpha = 1.f;
    RINGLM_CUBLAS_RETURN_IF_ERROR(cublasGemmEx(
        cublas_, CUBLAS_OP_T, CUBLAS_OP_N, int(n), int(m), int(k), &alpha, cw->data(), CUDA_R_16BF,
        int(k), xb, CUDA_R_16BF, int(k), &beta, y, CUDA_R_32F, int(n), CUBLAS_COMPUTE_32F,
        CUBLAS_GEMM_DEFAULT));
    // The bf16 copy stays valid for the next GEMM on the same plain x unless
    // this GEMM's output overlaps x.
    const auto* xs = reinterpret_cast<const char*>(x);
    const auto* ys = reinterpret_cast<const char*>(y);
    const bool overlap = ys < xs + sizeof(float) * size_t(m * k) && xs < ys + sizeof(float) * size_t(m * n);
    x_cache_ = XCache{!up && !overlap, x, m * k};
    return Status::Ok();
  }

  // Every op but the GEMMs may write memory a cached x lives in.
  void invalidate_x_cache() { x_cache_.valid = false; }

  // Fewest query rows worth a cuDNN call (shorter blocks are decode-like:
  // the kernel's key-split path serves them better).
  static constexpr int64_t kCudnnMinRows = 64;

  // Serves p through cuDNN when it applies: true when done, false when the
  // caller should use the kernel. Errors only for failures that leave the
  // call undone (CUDA errors, a failed cuDNN execution).
  Result<bool> cudnn_attention(const kernels::AttentionParams& p) {
#if RINGLM_HAVE_CUDNN
    if (!cudnn_status_.empty() || p.tq < kCudnnMinRows || p.tk <= 0 || p.d % 8 != 0 || p.d > 256)
      return false;
    // The mask must be one cuDNN expresses: contiguous ascending positions
    // (no padding) on both sides, then the causal offset decides.
    pos_host_.resize(size_t(p.tq + p.tk));
    RINGLM_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(pos_host_.data(), p.q_pos, sizeof(int32_t) * p.tq,
                                                cudaMemcpyDeviceToHost, stream_));
    RINGLM_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(pos_host_.data() + p.tq, p.k_pos,
                                                sizeof(int32_t) * p.tk, cudaMemcpyDeviceToHost,
                                                stream_));
    RINGLM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    const int32_t* qp = pos_host_.data();
    const int32_t* kp = qp + p.tq;
    const auto contiguous = [](const int32_t* pos, int64_t n) {
      if (pos[0] < 0 || int64_t(pos[0]) + n - 1 > INT32_MAX) return false;
      for (int64_t i = 1; i < n; ++i)
        if (pos[i] != pos[0] + i) return false;
      return true;
    };
    if (!contiguous(qp, p.tq) || !contiguous(kp, p.tk)) return false;
    CudnnAttentionShape s;
    s.tq = p.tq;
    s.tk = p.tk;
    s.hq = p.hq;
    s.hkv = p.hkv;
    s.d = p.d;
    s.scale = p.scale;
    // Causal: key j is visible to row i when j <= i + off, off = q0 - k0.
    const int64_t off = int64_t(qp[0]) - kp[0];
    if (!p.causal || off >= p.tk - 1) {
      s.mask = CudnnMask::kNone;
    } else if (off == 0 && p.tq <= p.tk) {
      s.mask = CudnnMask::kCausalTopLeft;
    } else if (off > 0 && off == p.tk - p.tq) {
      s.mask = CudnnMask::kCausalBottomRight;
    } else {
      return false;  // other offsets: some rows see nothing, or a band cuDNN is not asked for
    }
    if (!cudnn_) {
      auto made = CudnnAttention::Create(stream_);
      if (!made.ok()) {
        cudnn_status_ = made.status().message();
        return false;
      }
      cudnn_ = std::move(made).value();
    }
    Result<size_t> ws_bytes = cudnn_->prepare(s);
    if (!ws_bytes.ok()) {
      if (ws_bytes.status().code() == StatusCode::kUnsupported) return false;
      return ws_bytes.status();
    }
    // bf16 q, k, v, o and the f32 statistics, 256-byte aligned each.
    const auto aligned = [](size_t b) { return (b + 255) / 256 * 256; };
    const size_t nq = size_t(p.tq) * p.hq * p.d, nk = size_t(p.tk) * p.hkv * p.d;
    const size_t bq = aligned(2 * nq), bk = aligned(2 * nk), bs = aligned(4 * size_t(p.tq) * p.hq);
    RINGLM_ASSIGN_OR_RETURN(void* io, scratch(kScratchCudnnIo, 2 * bq + 2 * bk + bs));
    void* ws = nullptr;
    if (*ws_bytes > 0) {
      RINGLM_ASSIGN_OR_RETURN(ws, scratch(kScratchCudnnWs, *ws_bytes));
    }
    auto* base = static_cast<char*>(io);
    auto* qb = reinterpret_cast<uint16_t*>(base);
    auto* kb = reinterpret_cast<uint16_t*>(base + bq);
    auto* vb = reinterpret_cast<uint16_t*>(base + bq + bk);
    auto* ob = reinterpret_cast<uint16_t*>(base + bq + 2 * bk);
    auto* stats = reinterpret_cast<float*>(base + 2 * bq + 2 * bk);
    RINGLM_CUDA_RETURN_IF_ERROR(kc::f32_to_bf16(p.q, qb, int64_t(nq), stream_));
    RINGLM_CUDA_RETURN_IF_ERROR(kc::f32_to_bf16(p.k, kb, int64_t(nk), stream_));
    RINGLM_CUDA_RETURN_IF_ERROR(kc::f32_to_bf16(p.v, vb, int64_t(nk), stream_));
    if (Status st = cudnn_->run(s, qb, kb, vb, ob, stats, ws); !st.ok()) {
      // A failed cuDNN execution is not the caller's problem while our kernel
      // can do the call: stop using cuDNN on this backend and fall back. (A
      // sticky CUDA error fails the kernel too and is reported from there.)
      cudnn_status_ = "turned off after a failure: " + st.ToString();
      cudnn_.reset();
      return false;
    }
    RINGLM_CUDA_RETURN_IF_ERROR(kc::bf16_to_f32(ob, p.out, int64_t(nq), stream_));
    // cuDNN's statistics are [hq, tq]; the LSE is [tq, hq].
    RINGLM_CUDA_RETURN_IF_ERROR(kc::transpose_f32(stats, p.lse, p.hq, p.tq, stream_));
    return true;
#else
    (void)p;
    return false;
#endif
  }
  struct Scratch {
    void* ptr = nullptr;
    size_t bytes = 0;
  };

  explicit CudaBackend(int device) : device_(device) {}

  Status init() {
    RINGLM_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
    RINGLM_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    RINGLM_CUDA_RETURN_IF_ERROR(
        cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device_));
    RINGLM_CUBLAS_RETURN_IF_ERROR(cublasCreate(&cublas_));
    RINGLM_CUBLAS_RETURN_IF_ERROR(cublasSetStream(cublas_, stream_));
    return Status::Ok();
  }

  Status use_device() {
    int cur = -1;
    RINGLM_CUDA_RETURN_IF_ERROR(cudaGetDevice(&cur));
    if (cur != device_) RINGLM_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
    return Status::Ok();
  }

  // Device scratch of at least `bytes` for one purpose. Growing waits for the
  // stream first: queued work may still read the old block.
  Result<void*> scratch(ScratchSlot slot, size_t bytes) {
    Scratch& s = scratch_[slot];
    if (s.bytes >= bytes && s.ptr) return s.ptr;
    const size_t want = std::max<size_t>({bytes, s.bytes + s.bytes / 2, 4096});
    RINGLM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    free_device(s.ptr);
    s.ptr = nullptr;
    s.bytes = 0;
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, (want + 255) / 256 * 256);
    if (e != cudaSuccess)
      return cuda_error_status(e, ("scratch cudaMalloc of " + std::to_string(want) + " bytes").c_str(),
                               __FILE__, __LINE__);
    s.ptr = p;
    s.bytes = want;
    return p;
  }

  // The RoPE inverse frequencies of `cfg` on the device; uploaded again only
  // when they differ from the last upload (configs are compared by value, so
  // every scaling input counts).
  Result<const float*> upload_inv_freq(const kernels::RopeConfig& cfg) {
    std::vector<float> inv = kernels::cpu::rope_inv_freq(cfg);
    if (inv.size() < size_t(cfg.rot_dim / 2))
      return Internal("rope_inv_freq returned " + std::to_string(inv.size()) + " frequencies");
    const size_t bytes = sizeof(float) * inv.size();
    if (inv != rope_host_ || !scratch_[kScratchRope].ptr) {
      RINGLM_ASSIGN_OR_RETURN(void* d, scratch(kScratchRope, bytes));
      rope_host_ = std::move(inv);
      // Pageable source: staged before cudaMemcpyAsync returns; stream order
      // keeps earlier rope kernels on the previous values.
      RINGLM_CUDA_RETURN_IF_ERROR(
          cudaMemcpyAsync(d, rope_host_.data(), bytes, cudaMemcpyHostToDevice, stream_));
    }
    return static_cast<const float*>(scratch_[kScratchRope].ptr);
  }

  int device_;
  int sm_count_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::array<Scratch, kScratchCount> scratch_{};
  std::vector<int32_t> ids_host_;
  std::vector<float> rope_host_;
  std::vector<int32_t> pos_host_;
  struct XCache {
    bool valid = false;
    const float* x = nullptr;
    int64_t elems = 0;
  } x_cache_;
  CudaAttentionCounts counts_;
  std::string cudnn_status_;  // why cuDNN attention is not used; "" while it may be
#if RINGLM_HAVE_CUDNN
  std::unique_ptr<CudnnAttention> cudnn_;
#endif
};

}  // namespace

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
