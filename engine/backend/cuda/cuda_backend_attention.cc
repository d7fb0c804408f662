// CudaBackend's attention: cuDNN's fused attention for the layouts it
// expresses, else ringlm's kernels; attention over key blocks (KV pages); the
// page gather; the LSE merge.
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>

#include "backend/cuda/cuda_backend_impl.h"
#include "backend/cuda/cuda_status.h"
#include "cuda/attention_partial.h"
#include "cuda/convert.h"
#include "cuda/gather_blocks.h"
#include "cuda/merge_partials.h"
#include "cuda/transpose.h"

namespace ringlm::cuda_internal {

namespace kc = kernels::cuda;

CudaAttentionCounts CudaBackend::attention_counts() const {
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

Status CudaBackend::attention_partial(const kernels::AttentionParams& p) {
  invalidate_x_cache();
  if (p.tq < 0 || p.tk < 0 || p.hq <= 0 || p.hkv <= 0 || p.hq % p.hkv != 0 || p.d <= 0)
    return InvalidArgument(
        "cuda backend: attention shape (tq, tk >= 0; hq a multiple of hkv; d > 0)");
  if (p.tq == 0) return Status::Ok();
  RINGLM_RETURN_IF_ERROR(use_device());
  RINGLM_ASSIGN_OR_RETURN(const bool by_cudnn, cudnn_attention(p));
  if (by_cudnn) {
    ++counts_.cudnn;
    return Status::Ok();
  }
  kc::AttentionPlan plan = kc::plan_attention(p, sm_count_);
  if (grouped_attention_ && plan.path == kc::AttentionPath::kGeneric)
    plan = kc::plan_attention(p, sm_count_, kc::AttentionPath::kGrouped);
  if (plan.path == kc::AttentionPath::kUnsupported)
    return Unsupported("cuda backend: attention head dim " + std::to_string(p.d) +
                       " (supported: 1..256; tensor cores for 64 and 128)");
  void* ws = nullptr;
  if (plan.workspace_bytes > 0) {
    RINGLM_ASSIGN_OR_RETURN(ws, scratch(kScratchAttn, plan.workspace_bytes));
  }
  RINGLM_CUDA_RETURN_IF_ERROR(kc::attention_partial(p, plan, ws, stream_));
  ++counts_.kernel;
  return Status::Ok();
}

Status CudaBackend::attention_partial_blocks(const kernels::AttentionParams& p,
                                             const kernels::KeyBlock* blocks, size_t n) {
  invalidate_x_cache();
  RINGLM_RETURN_IF_ERROR(check_attention_blocks(p, blocks, n));
  if (n > size_t(INT32_MAX)) return InvalidArgument("cuda backend: more than 2^31 key blocks");
  if (p.tq == 0) return Status::Ok();
  const kc::BlocksPlan plan =
      kc::plan_attention_blocks(p, blocks, int(n), sm_count_, grouped_attention_);
  if (plan.splits <= 0)
    return Unsupported("cuda backend: attention head dim " + std::to_string(p.d) +
                       " (supported: 1..256)");
  RINGLM_RETURN_IF_ERROR(use_device());
  RINGLM_ASSIGN_OR_RETURN(void* ws, scratch(kScratchBlocks, plan.workspace_bytes));
  RINGLM_CUDA_RETURN_IF_ERROR(kc::attention_partial_blocks(p, plan, ws, stream_));
  ++counts_.kernel;
  return Status::Ok();
}

Status CudaBackend::gather_blocks(const kernels::KeyBlock* blocks, size_t n, int64_t row_bytes,
                                  void* k, void* v, int32_t* pos) {
  invalidate_x_cache();
  if (n == 0) return Status::Ok();
  if (n > size_t(INT32_MAX) || row_bytes <= 0 || row_bytes % 2 != 0)
    return InvalidArgument("cuda backend: gather_blocks needs an even row_bytes > 0");
  RINGLM_RETURN_IF_ERROR(check_key_blocks(blocks, n));
  RINGLM_RETURN_IF_ERROR(use_device());
  RINGLM_ASSIGN_OR_RETURN(void* ws,
                          scratch(kScratchGather, kc::gather_blocks_workspace_bytes(int(n))));
  RINGLM_CUDA_RETURN_IF_ERROR(kc::gather_blocks(blocks, int(n), row_bytes, k, v, pos, ws, stream_));
  return Status::Ok();
}

Status CudaBackend::merge_partials(const kernels::MergeParams& p) {
  invalidate_x_cache();
  RINGLM_RETURN_IF_ERROR(use_device());
  RINGLM_CUDA_RETURN_IF_ERROR(kc::merge_partials(p, stream_));
  return Status::Ok();
}

Result<bool> CudaBackend::cudnn_attention(const kernels::AttentionParams& p) {
#if RINGLM_HAVE_CUDNN
  if (!cudnn_status_.empty() || p.tq < kCudnnMinRows || p.tk <= 0 || p.d % 8 != 0 || p.d > 256)
    return false;
  // The mask must be one cuDNN expresses: contiguous ascending positions
  // (no padding) on both sides, then the causal offset decides. Planned from
  // the caller's host copies of the positions where it gave them; otherwise
  // they are read back (a stream synchronisation).
  const int32_t* qp = p.q_pos_host;
  const int32_t* kp = p.k_pos_host;
  if (!qp || !kp) {
    pos_host_.resize(size_t(p.tq + p.tk));
    RINGLM_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(pos_host_.data(), p.q_pos, sizeof(int32_t) * p.tq,
                                                cudaMemcpyDeviceToHost, stream_));
    RINGLM_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(
        pos_host_.data() + p.tq, p.k_pos, sizeof(int32_t) * p.tk, cudaMemcpyDeviceToHost, stream_));
    RINGLM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    qp = pos_host_.data();
    kp = qp + p.tq;
    ++counts_.position_readbacks;
  }
  const auto contiguous = [](const int32_t* pos, int64_t n) {
    if (pos[0] < 0 || int64_t(pos[0]) + n - 1 > INT32_MAX) return false;
    for (int64_t i = 1; i < n; ++i)
      if (pos[i] != pos[0] + i) return false;
    return true;
  };
  if (!contiguous(qp, p.tq) || !contiguous(kp, p.tk)) return false;
  // cuDNN takes a positive finite scale only; our kernel takes any.
  if (!(p.scale > 0.f) || !std::isfinite(p.scale)) return false;
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
    (void)cudaGetLastError();  // nothing the frontend left may fail the fallback's launch
    if (ws_bytes.status().code() == StatusCode::kUnsupported) return false;
    return ws_bytes.status();
  }
  // bf16 q, k, v, o and the f32 statistics, 256-byte aligned each. A bf16
  // KV cache's k and v go to cuDNN as they are (contiguous positions: no
  // padding rows to mask) when 16-byte aligned, as cuDNN needs; rows of
  // d % 8 == 0 elements keep that alignment from an aligned start. Otherwise
  // they are copied like f32 K/V.
  const auto aligned = [](size_t b) { return (b + 255) / 256 * 256; };
  const size_t nq = size_t(p.tq) * p.hq * p.d, nk = size_t(p.tk) * p.hkv * p.d;
  const bool kv_direct =
      p.kv == kernels::KvType::kBF16 &&
      ((reinterpret_cast<uintptr_t>(p.k) | reinterpret_cast<uintptr_t>(p.v)) % 16) == 0;
  const size_t bq = aligned(2 * nq), bk = kv_direct ? 0 : aligned(2 * nk),
               bs = aligned(4 * size_t(p.tq) * p.hq);
  RINGLM_ASSIGN_OR_RETURN(void* io, scratch(kScratchCudnnIo, 2 * bq + 2 * bk + bs));
  void* ws = nullptr;
  if (*ws_bytes > 0) {
    RINGLM_ASSIGN_OR_RETURN(ws, scratch(kScratchCudnnWs, *ws_bytes));
  }
  auto* base = static_cast<char*>(io);
  auto* qb = reinterpret_cast<uint16_t*>(base);
  auto* ob = reinterpret_cast<uint16_t*>(base + bq + 2 * bk);
  auto* stats = reinterpret_cast<float*>(base + 2 * bq + 2 * bk);
  RINGLM_CUDA_RETURN_IF_ERROR(kc::f32_to_bf16(p.q, qb, int64_t(nq), stream_));
  const uint16_t* kb = static_cast<const uint16_t*>(p.k);
  const uint16_t* vb = static_cast<const uint16_t*>(p.v);
  if (!kv_direct) {
    auto* kc16 = reinterpret_cast<uint16_t*>(base + bq);
    auto* vc16 = reinterpret_cast<uint16_t*>(base + bq + bk);
    if (p.kv == kernels::KvType::kBF16) {  // misaligned bf16: copy as is
      RINGLM_CUDA_RETURN_IF_ERROR(
          cudaMemcpyAsync(kc16, p.k, 2 * nk, cudaMemcpyDeviceToDevice, stream_));
      RINGLM_CUDA_RETURN_IF_ERROR(
          cudaMemcpyAsync(vc16, p.v, 2 * nk, cudaMemcpyDeviceToDevice, stream_));
    } else {
      RINGLM_CUDA_RETURN_IF_ERROR(
          kc::f32_to_bf16(static_cast<const float*>(p.k), kc16, int64_t(nk), stream_));
      RINGLM_CUDA_RETURN_IF_ERROR(
          kc::f32_to_bf16(static_cast<const float*>(p.v), vc16, int64_t(nk), stream_));
    }
    kb = kc16;
    vb = vc16;
  }
  if (Status st = cudnn_->run(s, qb, kb, vb, ob, stats, ws); !st.ok()) {
    // A failed cuDNN execution is not the caller's problem while our kernel
    // can do the call: stop using cuDNN on this backend and fall back. (A
    // sticky CUDA error fails the kernel too and is reported from there.)
    cudnn_status_ = "turned off after a failure: " + st.ToString();
    cudnn_.reset();
    (void)cudaGetLastError();  // a non-sticky error must not fail the fallback
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

}  // namespace ringlm::cuda_internal
