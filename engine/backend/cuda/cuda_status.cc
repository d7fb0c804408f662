#include "backend/cuda/cuda_status.h"

#include <cstring>
#include <string>

namespace ringlm {
namespace {

std::string where(const char* expr, const char* file, int line) {
  const char* base = std::strrchr(file, '/');
  return std::string(expr) + " (" + (base ? base + 1 : file) + ":" + std::to_string(line) + ")";
}

}  // namespace

Status cuda_error_status(cudaError_t err, const char* expr, const char* file, int line) {
  (void)cudaGetLastError();  // clear the non-sticky error state
  std::string msg = where(expr, file, line) + ": " + cudaGetErrorName(err) + ": " +
                    cudaGetErrorString(err);
  switch (err) {
    case cudaErrorMemoryAllocation:
      return ResourceExhausted(std::move(msg));
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInvalidDevice:
    case cudaErrorDevicesUnavailable:
    case cudaErrorStubLibrary:
      return Unavailable(std::move(msg));
    case cudaErrorInvalidValue:
    case cudaErrorInvalidDevicePointer:
    case cudaErrorInvalidConfiguration:
      return InvalidArgument(std::move(msg));
    case cudaErrorNotSupported:
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
      return Unsupported(std::move(msg));
    default:
      return Internal(std::move(msg));
  }
}

Status cublas_error_status(cublasStatus_t st, const char* expr, const char* file, int line) {
  (void)cudaGetLastError();
  std::string msg = where(expr, file, line) + ": " + cublasGetStatusName(st) + ": " +
                    cublasGetStatusString(st);
  switch (st) {
    case CUBLAS_STATUS_ALLOC_FAILED:
      return ResourceExhausted(std::move(msg));
    case CUBLAS_STATUS_INVALID_VALUE:
      return InvalidArgument(std::move(msg));
    case CUBLAS_STATUS_NOT_SUPPORTED:
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return Unsupported(std::move(msg));
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return Unavailable(std::move(msg));
    default:
      return Internal(std::move(msg));
  }
}

}  // namespace ringlm
