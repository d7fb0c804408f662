// Package ringlm is the Go binding of ringlm, an embeddable engine for
// long-context LLM inference with context parallelism.
//
//	engine, err := ringlm.NewEngine(ringlm.EngineConfig{ModelPath: path, WorldSize: 2})
//	if err != nil { ... }
//	defer engine.Close()
//	session, err := engine.NewSession(ringlm.SessionConfig{})
//	if err != nil { ... }
//	defer session.Close()
//	stream, err := session.Chat(ctx, ringlm.ChatRequest{Messages: []ringlm.Message{ringlm.User("Hi")}})
//	for stream.Next() {
//		fmt.Print(stream.Event().Text)
//	}
//	resp, err := stream.Response()
//
// It calls the C ABI (libringlm, found with pkg-config) through cgo code
// that SWIG generates from bindings/swig/ringlm.i. Every failure is an
// error value (*Error, with the status code); nothing panics across the
// boundary. Requests and responses travel in the schemas' JSON form.
package ringlm

import (
	"encoding/json"
	"runtime"
	"sync/atomic"

	"github.com/ringlm/ringlm/bindings/go/internal/capi"
)

var formatJSON = int(capi.FORMAT_JSON)

// Version is the library's version, e.g. "0.1.0".
func Version() string { return capi.Version() }

// ABIVersion is the library's ABI number.
func ABIVersion() int { return capi.Abi_version() }

// Engine is a loaded model and its rank group. Safe for concurrent use;
// requests of different sessions run one at a time.
type Engine struct {
	handle uintptr
	closed atomic.Bool
}

// NewEngine loads the model and starts the ranks described by cfg.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return NewEngineJSON(data)
}

// NewEngineJSON is NewEngine with an EngineConfig in its JSON form.
func NewEngineJSON(config []byte) (*Engine, error) {
	var h uintptr
	var msg string
	if err := check(capi.Engine_create(config, formatJSON, &h, &msg), msg); err != nil {
		return nil, err
	}
	e := &Engine{handle: h}
	runtime.SetFinalizer(e, func(e *Engine) { _ = e.Close() })
	return e, nil
}

// Serve runs one non-leader rank of a multi-process group (cfg.Rendezvous
// set, 1 <= cfg.Rank < cfg.WorldSize) until the leader, a NewEngine with the
// same rendezvous and rank 0, is closed. It blocks the calling goroutine.
func Serve(cfg EngineConfig) error {
	data, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	var msg string
	return check(capi.Engine_serve(data, formatJSON, &msg), msg)
}

// Close releases the engine. Open sessions keep its ranks alive until they
// are closed. A second Close returns an ErrNotFound error.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return &Error{Status: StatusNotFound, Message: "engine already closed"}
	}
	runtime.SetFinalizer(e, nil)
	var msg string
	return check(capi.Engine_destroy(e.handle, &msg), msg)
}

// Info describes the engine: version, model, ranks, calibration.
func (e *Engine) Info() (EngineInfo, error) {
	var info EngineInfo
	var out []byte
	var msg string
	if err := check(capi.Engine_info(e.handle, formatJSON, &out, &msg), msg); err != nil {
		return info, err
	}
	err := json.Unmarshal(out, &info)
	return info, err
}

// Tokenize encodes text with the model's tokenizer.
func (e *Engine) Tokenize(text string, addSpecial bool) ([]int32, error) {
	special := 0
	if addSpecial {
		special = 1
	}
	var ids []int32
	var msg string
	err := check(capi.Engine_tokenize(e.handle, text, special, &ids, &msg), msg)
	return ids, err
}

// Detokenize decodes token ids into text.
func (e *Engine) Detokenize(ids []int32) (string, error) {
	var text []byte
	var msg string
	err := check(capi.Engine_detokenize(e.handle, ids, &text, &msg), msg)
	return string(text), err
}

// NewSession opens a session: a conversation with its own KV cache.
func (e *Engine) NewSession(cfg SessionConfig) (*Session, error) {
	var config []byte
	if cfg != (SessionConfig{}) {
		var err error
		if config, err = json.Marshal(cfg); err != nil {
			return nil, err
		}
	}
	var h uintptr
	var msg string
	if err := check(capi.Session_create(e.handle, config, formatJSON, &h, &msg), msg); err != nil {
		return nil, err
	}
	return newSession(e, h), nil
}

// RestoreSession opens a session saved by Session.Save.
func (e *Engine) RestoreSession(path string) (*Session, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	var h uintptr
	var msg string
	if err := check(capi.Session_restore(e.handle, path, &h, &msg), msg); err != nil {
		return nil, err
	}
	return newSession(e, h), nil
}
