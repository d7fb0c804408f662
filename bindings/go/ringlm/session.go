package ringlm

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ringlm/ringlm/bindings/go/internal/capi"
)

// Session is one conversation: its transcript and its KV cache, kept across
// turns so that a turn prefills only its new messages. One goroutine uses
// a session at a time, except Cancel, which any goroutine may call.
type Session struct {
	engine *Engine // keeps the Engine (and its finalizer) alive while the session is
	handle uintptr
	closed atomic.Bool
}

func newSession(e *Engine, h uintptr) *Session {
	s := &Session{engine: e, handle: h}
	runtime.SetFinalizer(s, func(s *Session) { _ = s.Close() })
	return s
}

// Close cancels a request in flight, frees the session's KV and releases
// it. A second Close returns an ErrNotFound error.
func (s *Session) Close() error {
	if s.closed.Swap(true) {
		return &Error{Status: StatusNotFound, Message: "session already closed"}
	}
	runtime.SetFinalizer(s, nil)
	var msg string
	return check(capi.Session_close(s.handle, &msg), msg)
}

// Chat starts one chat turn. Its events and response are read from the
// returned Stream. When ctx is done before the request ends, the request
// is cancelled: the response then has FinishCancelled and Stream.Response
// returns ctx.Err() with it.
func (s *Session) Chat(ctx context.Context, req ChatRequest) (*Stream, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return s.ChatJSON(ctx, data)
}

// ChatJSON is Chat with a ChatRequest in its JSON form.
func (s *Session) ChatJSON(ctx context.Context, request []byte) (*Stream, error) {
	return s.start(ctx, request, capi.Session_chat)
}

// Generate appends raw token ids to the session's history (no chat
// template) and generates; see Chat.
func (s *Session) Generate(ctx context.Context, req GenerateRequest) (*Stream, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return s.start(ctx, data, capi.Session_generate)
}

func (s *Session) start(ctx context.Context, request []byte,
	call func(uintptr, []byte, int, *string) int) (*Stream, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var msg string
	if err := check(call(s.handle, request, formatJSON, &msg), msg); err != nil {
		return nil, err
	}
	st := &Stream{session: s, ctx: ctx, done: make(chan struct{})}
	if ctx.Done() != nil {
		go st.watch()
	}
	return st, nil
}

// Cancel asks the request in flight to stop; any goroutine may call it. The
// request ends with FinishCancelled; the session stays usable.
func (s *Session) Cancel() error {
	var msg string
	return check(capi.Session_cancel(s.handle, &msg), msg)
}

// Transcript is the conversation so far.
func (s *Session) Transcript() (Transcript, error) {
	var t Transcript
	var out []byte
	var msg string
	if err := check(capi.Session_transcript(s.handle, formatJSON, &out, &msg), msg); err != nil {
		return t, err
	}
	err := json.Unmarshal(out, &t)
	return t, err
}

// Save writes the session (transcript, history, KV) to path atomically.
func (s *Session) Save(path string) error {
	if err := checkPath(path); err != nil {
		return err
	}
	var msg string
	return check(capi.Session_save(s.handle, path, &msg), msg)
}

// Rewind keeps the first keepMessages messages of the transcript (a system
// prompt counts as one) and frees the KV of the rest, so the next turn
// prefills only what follows them: rewinding to all but the last two
// messages and asking the same question again regenerates the last reply.
// ErrOutOfRange beyond the transcript.
func (s *Session) Rewind(keepMessages int64) error {
	var msg string
	return check(capi.Session_rewind(s.handle, keepMessages, &msg), msg)
}

// RewindTokens is raw mode's Rewind: it keeps the first keepTokens tokens of
// the token history; the transcript is not changed.
func (s *Session) RewindTokens(keepTokens int64) error {
	var msg string
	return check(capi.Session_rewind_tokens(s.handle, keepTokens, &msg), msg)
}

// Fork opens a new session continuing from this one: the same transcript and
// history, and a copy of its KV on every rank, so its next turn prefills only
// its own tokens (the copy shares this session's KV pages until either writes
// into one). The two sessions are independent afterwards.
func (s *Session) Fork() (*Session, error) {
	var h uintptr
	var msg string
	if err := check(capi.Session_fork(s.handle, &h, &msg), msg); err != nil {
		return nil, err
	}
	return newSession(s.engine, h), nil
}

func checkPath(path string) error {
	if strings.IndexByte(path, 0) >= 0 {
		return &Error{Status: StatusInvalidArgument, Message: "a path cannot contain a NUL byte"}
	}
	return nil
}

// Stream is the events of one request, then its response:
//
//	for stream.Next() {
//		ev := stream.Event()
//	}
//	resp, err := stream.Response()
//
// A Stream is used by one goroutine. Close it (or read it to the end)
// before the session's next request.
type Stream struct {
	session *Session
	ctx     context.Context
	event   Event
	resp    *ChatResponse
	err     error

	mu        sync.Mutex    // guards ended and cancelled against watch
	ended     bool          // the terminal event was read
	cancelled bool          // the context cancelled the request
	done      chan struct{} // closed when ended, to stop watch
}

// watch cancels the request when the context is done first.
func (st *Stream) watch() {
	select {
	case <-st.ctx.Done():
		st.mu.Lock()
		if !st.ended {
			st.cancelled = true
			_ = st.session.Cancel()
		}
		st.mu.Unlock()
	case <-st.done:
	}
}

// Next waits for the next event and reports whether there is one; false
// once the request has ended (see Response) or failed (see Err). A failed
// pull that leaves the request running (out of memory for the event, which
// stays queued) returns false with Err set but does not end the stream: a
// later Next pulls again, and Close still cancels and drains the request.
// Event kinds newer than this binding are skipped.
func (st *Stream) Next() bool {
	for !st.finished() {
		var data []byte
		var msg string
		if err := check(capi.Session_next_event(st.session.handle, -1, &data, &msg), msg); err != nil {
			if requestRunning(err) {
				st.mu.Lock()
				st.err = err
				st.mu.Unlock()
				return false
			}
			st.end(nil, err)
			return false
		}
		st.mu.Lock()
		st.err = nil // a pull worked: an earlier failed one is over
		st.mu.Unlock()
		if data == nil {
			continue
		}
		var ev wireEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			st.end(nil, err)
			return false
		}
		switch ev.Kind {
		case "Text":
			st.event = Event{Kind: EventText, Text: ev.Text, Tokens: ev.Tokens}
			return true
		case "Progress":
			st.event = Event{Kind: EventProgress, PrefillDone: ev.PrefillDone, PrefillTotal: ev.PrefillTotal}
			return true
		case "Done":
			resp := ev.Response
			if resp == nil {
				resp = &ChatResponse{}
			}
			st.end(resp, nil)
		case "Error":
			st.end(nil, &Error{Status: Status(ev.Status), Message: ev.Message})
		default: // a kind newer than this binding: not terminal
		}
	}
	return false
}

// requestRunning reports whether a failed pull left the request running:
// every status but the ones that say the session or its request is gone.
func requestRunning(err error) bool {
	var e *Error
	if !asError(err, &e) {
		return false
	}
	switch e.Status {
	case StatusNotFound, StatusCancelled, StatusFailedPrecondition, StatusInvalidArgument:
		return false
	}
	return true
}

func (st *Stream) finished() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.ended
}

func (st *Stream) end(resp *ChatResponse, err error) {
	st.mu.Lock()
	st.ended = true
	st.resp, st.err = resp, err
	if err == nil && st.cancelled {
		st.err = st.ctx.Err()
	}
	st.mu.Unlock()
	close(st.done)
}

// Event is the event Next moved to.
func (st *Stream) Event() Event { return st.event }

// Err is the error that ended the stream: the request's (an *Error), or
// the context's when it cancelled the request; or the last pull's, when it
// failed and left the request running; nil otherwise.
func (st *Stream) Err() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}

// Response reads the remaining events and returns the response. When the
// context cancelled the request, the (partial) response comes with
// ctx.Err(); when the request failed, the response is nil.
func (st *Stream) Response() (*ChatResponse, error) {
	for st.Next() {
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.resp, st.err
}

// Close cancels the request if it has not ended and waits for its end.
func (st *Stream) Close() error {
	if st.finished() {
		return nil
	}
	if err := st.session.Cancel(); err != nil {
		return err
	}
	_, err := st.Response()
	var e *Error
	if err != nil && (!asError(err, &e) || e.Status != StatusCancelled) && err != st.ctx.Err() {
		return err
	}
	return nil
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}
