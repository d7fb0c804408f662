// Package capi is the SWIG-generated Go layer over the ringlm C ABI
// (bindings/swig/ringlm.i, run through SWIG by the go tool). It is internal:
// package ringlm is the API.
//
// Functions are the C ABI's without the ringlm_ prefix (Session_chat for
// ringlm_session_chat); each returns the status code, writes a failure's
// message to its last argument (a *string) and its outputs to pointers.
package capi

// The pkg-config line here gives both the SWIG step (include directories)
// and cgo (compiler and linker flags) the installed ringlm.

// #cgo pkg-config: ringlm
import "C"
