// Status and Result<T>: the error currency of the engine.
//
// Every fallible engine function returns Status or Result<T>. Codes map
// one-to-one onto the C ABI's ringlm_status values (capi/), so a failure deep
// in the engine reaches the host with its code and message intact.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ringlm {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,      // caller passed something malformed
  kNotFound = 2,             // file, session, tensor or key absent
  kOutOfRange = 3,           // index/length beyond a limit (e.g. context overflow)
  kCorruptData = 4,          // a file or buffer failed validation
  kUnsupported = 5,          // valid input the engine cannot handle (type, arch)
  kIoError = 6,              // the OS refused a read/write/mmap
  kResourceExhausted = 7,    // memory or KV budget exhausted
  kDeadlineExceeded = 8,     // a communication deadline passed
  kUnavailable = 9,          // a peer rank disappeared
  kCancelled = 10,           // the request was cancelled
  kFailedPrecondition = 11,  // the object is in the wrong state for the call
  kInternal = 12,            // a bug: an invariant did not hold
};

std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "CODE_NAME: message"
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

Status InvalidArgument(std::string msg);
Status NotFound(std::string msg);
Status OutOfRange(std::string msg);
Status CorruptData(std::string msg);
Status Unsupported(std::string msg);
Status IoError(std::string msg);
Status ResourceExhausted(std::string msg);
Status DeadlineExceeded(std::string msg);
Status Unavailable(std::string msg);
Status Cancelled(std::string msg);
Status FailedPrecondition(std::string msg);
Status Internal(std::string msg);

// Inside a catch block: the status of the exception being handled
// (std::bad_alloc: kResourceExhausted "out of memory"; any other exception:
// kInternal with its what(), where it has one).
Status current_exception_status();

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ringlm

#define RINGLM_CONCAT_INNER_(a, b) a##b
#define RINGLM_CONCAT_(a, b) RINGLM_CONCAT_INNER_(a, b)

#define RINGLM_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::ringlm::Status ringlm_status_ = (expr);        \
    if (!ringlm_status_.ok()) return ringlm_status_; \
  } while (0)

#define RINGLM_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

#define RINGLM_ASSIGN_OR_RETURN(lhs, expr) \
  RINGLM_ASSIGN_OR_RETURN_IMPL_(RINGLM_CONCAT_(ringlm_result_, __LINE__), lhs, expr)

// Check a condition on untrusted input; on failure return `status_fn(msg)`.
#define RINGLM_CHECK_OR_RETURN(cond, status_fn, msg) \
  do {                                               \
    if (!(cond)) return ::ringlm::status_fn(msg);    \
  } while (0)
