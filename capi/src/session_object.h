// The objects behind the C handles: an engine, and a session with its
// request worker and event queue.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>

#include "core/status.h"
#include "decode.h"
#include "messages.h"
#include "runtime/engine.h"

namespace ringlm::capi {

// Owns the Engine. Sessions hold a reference, so the engine outlives the
// host's handle until its last session is closed.
struct EngineObject {
  std::unique_ptr<Engine> engine;
};

// One request: a chat turn or raw tokens, and the format of its events.
struct Request {
  std::variant<ChatCall, GenerateCall> call;
  Format format = Format::kFlatBuffers;
};

// An encoded Event and whether it ends its request.
struct EncodedEvent {
  std::string bytes;
  bool terminal = false;
  Status status;  // terminal Error events: their status
};

// A session: its engine-side id, at most one request in flight, and the
// queue of that request's events.
//
// Pull mode: start() runs the request on a worker thread that pushes events;
// next_event() pops them; the request is in flight until its terminal event
// is popped. Inline mode: run_inline() runs it on the calling thread and
// hands each event to a sink. cancel() may be called from any thread.
class SessionObject {
 public:
  SessionObject(std::shared_ptr<EngineObject> engine, SessionId id);
  ~SessionObject();  // joins the worker (close() normally has)
  SessionObject(const SessionObject&) = delete;
  SessionObject& operator=(const SessionObject&) = delete;

  Engine& engine() { return *engine_->engine; }
  const std::shared_ptr<EngineObject>& engine_object() const { return engine_; }
  SessionId id() const { return id_; }

  // kFailedPrecondition while a request is in flight; kNotFound once closed.
  Status start(Request req);
  // Hands the next event to `take` and pops it once `take` succeeds (an
  // event `take` fails on, say for want of memory, stays first in the queue);
  // *got is false on timeout. kFailedPrecondition with no request in flight
  // or an inline request running.
  Status next_event(int32_t timeout_ms, const std::function<Status(const EncodedEvent&)>& take,
                    bool* got);
  // Runs `req` on this thread; `sink` returns false to cancel. Returns the
  // terminal event's status (Ok after Done).
  Status run_inline(Request req, const std::function<bool(const EncodedEvent&)>& sink);
  void cancel();
  // Fails the checks for calls that need an idle session (transcript).
  Status check_idle();
  // Runs `body` (a save, a rewind, a fork) on the idle session; close()
  // waits for it, and no request starts meanwhile (kFailedPrecondition).
  // kNotFound once closed, kFailedPrecondition while a request is in flight.
  Status while_idle(const std::function<Status()>& body);
  // Cancels and waits for the request in flight, then frees the session's
  // KV on the ranks. Once only (later calls are no-ops returning Ok).
  Status close();

 private:
  // With mu_ held through `l`: fails when the session is closed or busy;
  // otherwise joins the previous request's exited worker (unlocking `l`
  // meanwhile) and marks a request in flight, inline or not.
  Status begin_request_locked(std::unique_lock<std::mutex>& l, bool inline_mode);
  // check_idle with mu_ held.
  Status idle_locked() const;
  // Executes the request, delivering every event (the terminal one last).
  void execute(const Request& req, const std::function<void(EncodedEvent)>& deliver);
  void push(EncodedEvent ev);

  std::shared_ptr<EngineObject> engine_;
  const SessionId id_;
  std::atomic<bool> cancel_{false};

  std::mutex mu_;  // guards queue_, terminal_, in_flight_, inline_, idle_calls_, closed_, worker_
  std::condition_variable cv_;
  std::deque<EncodedEvent> queue_;         // Progress and Text events, in order
  std::optional<EncodedEvent> terminal_;  // Done or Error, pulled after the queue
  bool in_flight_ = false;  // a request started and its terminal event not yet taken
  bool inline_ = false;     // the request in flight runs in run_inline
  int idle_calls_ = 0;      // while_idle() calls running
  bool closed_ = false;
  std::thread worker_;
};

}  // namespace ringlm::capi
