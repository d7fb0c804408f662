// CUDA / cuBLAS errors as Status.
//
// Every CUDA runtime or cuBLAS call of the CUDA backend goes through one of
// the macros below: a failure returns a Status carrying the call, the error
// name and the location, and cudaGetLastError() is called so a non-sticky
// error does not resurface in the next, unrelated check. Sticky errors (an
// illegal address in a kernel, say) leave the context unusable; every later
// call then fails with the same code, which is the honest answer.
#pragma once

#include <cublas_api.h>
#include <cuda_runtime_api.h>

#include "core/status.h"

namespace ringlm {

// kResourceExhausted for allocation failures, kUnavailable when no device or
// driver is usable, kInvalidArgument for invalid values / pointers,
// kUnsupported for unsupported features or architectures, kInternal otherwise.
Status cuda_error_status(cudaError_t err, const char* expr, const char* file, int line);
Status cublas_error_status(cublasStatus_t st, const char* expr, const char* file, int line);

}  // namespace ringlm

#define RINGLM_CUDA_RETURN_IF_ERROR(expr)                                          \
  do {                                                                             \
    const cudaError_t ringlm_cuda_err_ = (expr);                                   \
    if (ringlm_cuda_err_ != cudaSuccess)                                           \
      return ::ringlm::cuda_error_status(ringlm_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (0)

#define RINGLM_CUBLAS_RETURN_IF_ERROR(expr)                                          \
  do {                                                                               \
    const cublasStatus_t ringlm_cublas_st_ = (expr);                                 \
    if (ringlm_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                  \
      return ::ringlm::cublas_error_status(ringlm_cublas_st_, #expr, __FILE__, __LINE__); \
  } while (0)
