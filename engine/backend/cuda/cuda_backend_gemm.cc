// CudaBackend's GEMMs: matmul, and the fused residual / SwiGLU forms, over
// cublasGemmEx with the input rounded to bf16 once per distinct input.
#include <climits>

#include "backend/cuda/cuda_backend_impl.h"
#include "backend/cuda/cuda_status.h"
#include "cuda/add.h"
#include "cuda/convert.h"
#include "cuda/swiglu.h"

namespace ringlm::cuda_internal {

namespace kc = kernels::cuda;

Status CudaBackend::matmul(const float* x, const Weight& w, const float* bias, float* y,
                           int64_t m) {
  RINGLM_RETURN_IF_ERROR(gemm(x, nullptr, w, y, m, 0.f));
  if (bias && m > 0 && w.rows() > 0)
    RINGLM_CUDA_RETURN_IF_ERROR(kc::add_bias_rows(y, bias, m, w.rows(), stream_));
  return Status::Ok();
}

Status CudaBackend::matmul_add(const float* x, const Weight& w, float* y, int64_t m) {
  return gemm(x, nullptr, w, y, m, 1.f);
}

Status CudaBackend::swiglu_matmul_add(float* gate, const float* up, const Weight& w, float* y,
                                      int64_t m) {
  return gemm(gate, up, w, y, m, 1.f);
}

Status CudaBackend::gemm(const float* x, const float* up, const Weight& w, float* y, int64_t m,
                         float beta) {
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
      RINGLM_CUDA_RETURN_IF_ERROR(
          kc::swiglu_bf16(x, up, static_cast<uint16_t*>(xb), m * k, stream_));
    } else {
      RINGLM_CUDA_RETURN_IF_ERROR(kc::f32_to_bf16(x, static_cast<uint16_t*>(xb), m * k, stream_));
    }
  }
  // Row-major y[m, n] = A[m, k] W[n, k]^T is column-major y^T[n, m] = W^T A^T:
  // A = W (column-major k x n, transposed), B = A^T (column-major k x m).
  const float alpha = 1.f;
  RINGLM_CUBLAS_RETURN_IF_ERROR(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, int(n), int(m),
                                             int(k), &alpha, cw->data(), CUDA_R_16BF, int(k), xb,
                                             CUDA_R_16BF, int(k), &beta, y, CUDA_R_32F, int(n),
                                             CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  // The bf16 copy stays valid for the next GEMM on the same plain x unless
  // this GEMM's output overlaps x.
  const auto* xs = reinterpret_cast<const char*>(x);
  const auto* ys = reinterpret_cast<const char*>(y);
  const bool overlap =
      ys < xs + sizeof(float) * size_t(m * k) && xs < ys + sizeof(float) * size_t(m * n);
  x_cache_ = XCache{!up && !overlap, x, m * k};
  return Status::Ok();
}

}  // namespace ringlm::cuda_internal
