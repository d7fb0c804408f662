#include "session_object.h"

#include <chrono>

#include "encode.h"

namespace ringlm::capi {
namespace {

// An event that could not be encoded becomes the request's error.
EncodedEvent encoded_or(Result<std::string> r, Status* first_error) {
  EncodedEvent ev;
  if (r.ok()) {
    ev.bytes = std::move(r).value();
  } else if (first_error->ok()) {
    *first_error = r.status();
  }
  return ev;
}

}  // namespace

SessionObject::SessionObject(std::shared_ptr<EngineObject> engine, SessionId id)
    : engine_(std::move(engine)), id_(id) {}

SessionObject::~SessionObject() {
  cancel();
  if (worker_.joinable()) worker_.join();
}

void SessionObject::cancel() {
  cancel_ = true;
  (void)engine().cancel(id_);  // Ok when nothing runs; the flag covers a request about to start
}

void SessionObject::push(EncodedEvent ev) {
  std::lock_guard<std::mutex> l(mu_);
  if (ev.terminal) {
    terminal_.emplace(std::move(ev));  // allocates nothing: the request always ends
  } else {
    queue_.push_back(std::move(ev));  // may throw; the engine then fails the turn
  }
  cv_.notify_all();
}

void SessionObject::execute(const Request& req, const std::function<void(EncodedEvent)>& deliver) {
  Engine& e = engine();
  const Format f = req.format;
  Status event_error;  // first event that failed to encode
  auto after_event = [&] {
    if (cancel_ || !event_error.ok()) (void)e.cancel(id_);
  };
  TurnEvents events;
  events.on_text = [&](std::string_view text, std::span<const int32_t> tokens) {
    EncodedEvent ev = encoded_or(encode_text_event(f, text, tokens), &event_error);
    if (!ev.bytes.empty()) deliver(std::move(ev));
    after_event();
  };
  events.on_progress = [&](int64_t done, int64_t total) {
    EncodedEvent ev = encoded_or(encode_progress_event(f, done, total), &event_error);
    if (!ev.bytes.empty()) deliver(std::move(ev));
    after_event();
  };

  Status status;
  TurnResult result;
  try {
    // A cancel that arrives before the engine has started the request is
    // passed on after its first prefill step (every request has one), so a
    // cancelled request always ends the same way, wherever it was stopped.
    Result<TurnResult> r = std::holds_alternative<ChatCall>(req.call)
                               ? e.chat(id_, std::get<ChatCall>(req.call).messages,
                                        std::get<ChatCall>(req.call).opts, events)
                               : e.generate(id_, std::get<GenerateCall>(req.call).tokens,
                                            std::get<GenerateCall>(req.call).opts, events);
    if (r.ok()) {
      result = std::move(r).value();
    } else {
      status = r.status();
    }
  } catch (...) {
    status = current_exception_status();
  }
  if (status.ok() && !event_error.ok()) status = event_error;

  EncodedEvent terminal;
  terminal.terminal = true;
  try {
    Result<std::string> bytes =
        status.ok() ? encode_done_event(f, result) : encode_error_event(f, status);
    if (!bytes.ok() && status.ok()) {
      status = bytes.status();
      bytes = encode_error_event(f, status);
    }
    if (bytes.ok()) terminal.bytes = std::move(bytes).value();
  } catch (...) {
    status = current_exception_status();
  }
  terminal.status = status;
  deliver(std::move(terminal));  // may be empty bytes only if even the error could not be encoded
}

Status SessionObject::begin_request_locked(std::unique_lock<std::mutex>& l, bool inline_mode) {
  for (;;) {
    if (closed_) return NotFound("session is closed");
    if (in_flight_)
      return FailedPrecondition(
          inline_ ? "a request is in flight on this session: finish or cancel it first"
                  : "a request is in flight on this session: pull its events until Done or Error "
                    "(or cancel it) before starting another");
    if (idle_calls_ > 0)
      return FailedPrecondition("another thread saves, rewinds or forks the session");
    if (!worker_.joinable()) break;
    // The previous request's worker has delivered its terminal event and is
    // exiting. Another thread may start a request while this one joins it:
    // everything is checked again after.
    std::thread old = std::move(worker_);
    l.unlock();
    old.join();
    l.lock();
  }
  queue_.clear();
  terminal_.reset();
  cancel_ = false;
  in_flight_ = true;
  inline_ = inline_mode;
  return Status::Ok();
}

Status SessionObject::start(Request req) {
  std::unique_lock<std::mutex> l(mu_);
  RINGLM_RETURN_IF_ERROR(begin_request_locked(l, false));
  try {
    worker_ = std::thread([this, req = std::move(req)] {
      execute(req, [this](EncodedEvent ev) { push(std::move(ev)); });
    });
  } catch (...) {
    in_flight_ = false;
    return current_exception_status().WithContext("starting the request thread");
  }
  return Status::Ok();
}

Status SessionObject::next_event(int32_t timeout_ms,
                                 const std::function<Status(const EncodedEvent&)>& take,
                                 bool* got) {
  *got = false;
  std::unique_lock<std::mutex> l(mu_);
  if (closed_) return NotFound("session is closed");
  if (inline_)
    return FailedPrecondition("the request in flight delivers its events to its callback");
  if (!in_flight_ && queue_.empty() && !terminal_)
    return FailedPrecondition("no request in flight on this session");
  auto ready = [&] { return !queue_.empty() || terminal_ || closed_; };
  if (timeout_ms < 0) {
    cv_.wait(l, ready);
  } else if (timeout_ms > 0) {
    cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), ready);
  }
  if (closed_) return Cancelled("the session was closed while waiting for an event");
  if (queue_.empty() && !terminal_) return Status::Ok();  // timed out
  const bool last = queue_.empty();  // the terminal event comes after all others
  const EncodedEvent& ev = last ? *terminal_ : queue_.front();
  Status st = ev.bytes.empty() ? Internal("an event could not be encoded") : take(ev);
  if (!st.ok() && !ev.bytes.empty()) return st;  // kept for the next call
  if (last) {
    in_flight_ = false;
    terminal_.reset();
  } else {
    queue_.pop_front();
  }
  *got = st.ok();
  return st;
}

Status SessionObject::run_inline(Request req,
                                 const std::function<bool(const EncodedEvent&)>& sink) {
  {
    std::unique_lock<std::mutex> l(mu_);
    RINGLM_RETURN_IF_ERROR(begin_request_locked(l, true));
  }
  Status final_status;
  bool sink_failed = false;
  execute(req, [&](EncodedEvent ev) {
    if (ev.terminal) final_status = ev.status;
    if (ev.bytes.empty()) return;
    bool go = true;
    try {
      go = sink(ev);
    } catch (...) {
      sink_failed = true;
      go = false;
    }
    if (!go) cancel();
  });
  {
    std::lock_guard<std::mutex> l(mu_);
    in_flight_ = false;
    inline_ = false;
    cv_.notify_all();  // a close() from another thread waits for this
  }
  if (final_status.ok() && sink_failed) return Internal("the event callback threw an exception");
  return final_status;
}

Status SessionObject::idle_locked() const {
  if (closed_) return NotFound("session is closed");
  if (in_flight_) return FailedPrecondition("a request is in flight on this session");
  return Status::Ok();
}

Status SessionObject::check_idle() {
  std::lock_guard<std::mutex> l(mu_);
  return idle_locked();
}

Status SessionObject::while_idle(const std::function<Status()>& body) {
  {
    std::lock_guard<std::mutex> l(mu_);
    RINGLM_RETURN_IF_ERROR(idle_locked());
    ++idle_calls_;
  }
  Status st = body();
  std::lock_guard<std::mutex> l(mu_);
  --idle_calls_;
  cv_.notify_all();  // a close() waits for them
  return st;
}

Status SessionObject::close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return Status::Ok();
    closed_ = true;
    cv_.notify_all();
  }
  cancel();
  std::thread worker;
  {
    std::unique_lock<std::mutex> l(mu_);
    worker = std::move(worker_);
    // A *_stream request runs on its caller's thread, a while_idle() call
    // (a save, say) too: wait for them to end.
    cv_.wait(l, [&] { return !inline_ && idle_calls_ == 0; });
  }
  if (worker.joinable()) worker.join();
  return engine().close_session(id_);
}

}  // namespace ringlm::capi
