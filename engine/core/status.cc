#include "core/status.h"

#include <exception>
#include <new>

namespace ringlm {

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case StatusCode::kNotFound:
      return "NOT_FOUND";
    case StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case StatusCode::kCorruptData:
      return "CORRUPT_DATA";
    case StatusCode::kUnsupported:
      return "UNSUPPORTED";
    case StatusCode::kIoError:
      return "IO_ERROR";
    case StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case StatusCode::kCancelled:
      return "CANCELLED";
    case StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case StatusCode::kInternal:
      return "INTERNAL";
  }
  return "UNKNOWN";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s(status_code_name(code_));
  s += ": ";
  s += message_;
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return Status(code_, std::move(m));
}

#define RINGLM_DEFINE_STATUS_FN_(name, code) \
  Status name(std::string msg) { return Status(StatusCode::code, std::move(msg)); }
RINGLM_DEFINE_STATUS_FN_(InvalidArgument, kInvalidArgument)
RINGLM_DEFINE_STATUS_FN_(NotFound, kNotFound)
RINGLM_DEFINE_STATUS_FN_(OutOfRange, kOutOfRange)
RINGLM_DEFINE_STATUS_FN_(CorruptData, kCorruptData)
RINGLM_DEFINE_STATUS_FN_(Unsupported, kUnsupported)
RINGLM_DEFINE_STATUS_FN_(IoError, kIoError)
RINGLM_DEFINE_STATUS_FN_(ResourceExhausted, kResourceExhausted)
RINGLM_DEFINE_STATUS_FN_(DeadlineExceeded, kDeadlineExceeded)
RINGLM_DEFINE_STATUS_FN_(Unavailable, kUnavailable)
RINGLM_DEFINE_STATUS_FN_(Cancelled, kCancelled)
RINGLM_DEFINE_STATUS_FN_(FailedPrecondition, kFailedPrecondition)
RINGLM_DEFINE_STATUS_FN_(Internal, kInternal)
#undef RINGLM_DEFINE_STATUS_FN_

Status current_exception_status() {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("out of memory");
  } catch (const std::exception& e) {
    return Internal(std::string("exception: ") + e.what());
  } catch (...) {
    return Internal("unknown exception");
  }
}

}  // namespace ringlm
