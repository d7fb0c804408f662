package ringlm

import "fmt"

// Status is a ringlm C ABI status code.
type Status int

// The status codes (ringlm.h, enum ringlm_status_code).
const (
	StatusOK                 Status = 0
	StatusInvalidArgument    Status = 1
	StatusNotFound           Status = 2
	StatusOutOfRange         Status = 3
	StatusCorruptData        Status = 4
	StatusUnsupported        Status = 5
	StatusIOError            Status = 6
	StatusResourceExhausted  Status = 7
	StatusDeadlineExceeded   Status = 8
	StatusUnavailable        Status = 9
	StatusCancelled          Status = 10
	StatusFailedPrecondition Status = 11
	StatusInternal           Status = 12
)

var statusNames = [...]string{
	"OK", "INVALID_ARGUMENT", "NOT_FOUND", "OUT_OF_RANGE", "CORRUPT_DATA", "UNSUPPORTED",
	"IO_ERROR", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "UNAVAILABLE", "CANCELLED",
	"FAILED_PRECONDITION", "INTERNAL",
}

// String is the status's name, e.g. "NOT_FOUND" ("UNKNOWN" for other codes).
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "UNKNOWN"
}

// Error is every failure of the library: its status code and message.
// Compare kinds with errors.Is against the Err* values:
//
//	if errors.Is(err, ringlm.ErrNotFound) { ... }
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "ringlm: " + e.Status.String()
	}
	return fmt.Sprintf("ringlm: %s: %s", e.Status, e.Message)
}

// Is reports whether target is an *Error of the same status with no
// message (the Err* values) or with the same message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status && (t.Message == "" || t.Message == e.Message)
}

// Values to match with errors.Is.
var (
	ErrInvalidArgument    = &Error{Status: StatusInvalidArgument}
	ErrNotFound           = &Error{Status: StatusNotFound}
	ErrOutOfRange         = &Error{Status: StatusOutOfRange}
	ErrCorruptData        = &Error{Status: StatusCorruptData}
	ErrUnsupported        = &Error{Status: StatusUnsupported}
	ErrIO                 = &Error{Status: StatusIOError}
	ErrResourceExhausted  = &Error{Status: StatusResourceExhausted}
	ErrDeadlineExceeded   = &Error{Status: StatusDeadlineExceeded}
	ErrUnavailable        = &Error{Status: StatusUnavailable}
	ErrCancelled          = &Error{Status: StatusCancelled}
	ErrFailedPrecondition = &Error{Status: StatusFailedPrecondition}
	ErrInternal           = &Error{Status: StatusInternal}
)

// check turns a C ABI status and message into an error (nil for OK).
func check(status int, message string) error {
	if status == 0 {
		return nil
	}
	return &Error{Status: Status(status), Message: message}
}
