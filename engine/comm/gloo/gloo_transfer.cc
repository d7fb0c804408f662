#include "comm/gloo/gloo_transfer.h"

#include <gloo/common/error.h>
#include <gloo/common/logging.h>
#include <gloo/context.h>
#include <gloo/transport/unbound_buffer.h>

#include <algorithm>
#include <exception>
#include <utility>

namespace ringlm {

namespace {

bool mentions_timeout(const std::string& msg) {
  return msg.find("Timed out") != std::string::npos || msg.find("timeout") != std::string::npos ||
         msg.find("Timeout") != std::string::npos;
}

}  // namespace

Status status_from_current_exception(const std::string& context) {
  try {
    throw;
  } catch (const gloo::IoException& e) {
    std::string msg = context + ": " + e.what();
    return mentions_timeout(e.what()) ? DeadlineExceeded(std::move(msg))
                                      : Unavailable(std::move(msg));
  } catch (const gloo::EnforceNotMet& e) {
    return Internal(context + ": " + e.what());
  } catch (const std::exception& e) {
    return Internal(context + ": " + e.what());
  } catch (...) {
    return Internal(context + ": unknown exception");
  }
}

// --- GlooGroup ---

namespace {

// The sentinel's slot: no message is ever sent on it.
constexpr uint64_t kSentinelSlot = uint64_t{0xffff} << 48;
// "Forever" for the sentinel's wait (a Gloo wait that expires closes every
// connection, so it must not expire): 50 years, far from overflowing
// steady_clock's nanoseconds.
constexpr auto kForever = std::chrono::hours(24 * 365 * 50);
// How long a woken wait looks again for a completion that raced the wake-up.
constexpr auto kRecheck = std::chrono::milliseconds(1);

}  // namespace

GlooGroup::GlooGroup(std::shared_ptr<gloo::Context> context)
    : context_(std::move(context)), sentinel_bytes_(static_cast<size_t>(context_->size), 0) {
  sentinel_ = context_->createUnboundBuffer(sentinel_bytes_.data(), sentinel_bytes_.size());
  for (int peer = 0; peer < context_->size; ++peer) {
    if (peer != context_->rank) sentinel_->recv(peer, kSentinelSlot, static_cast<size_t>(peer), 1);
  }
  watchdog_ = std::thread([this] { watchdog_loop(); });
}

GlooGroup::~GlooGroup() {
  sentinel_->abortWaitRecv();  // the watchdog returns (or has returned already)
  watchdog_.join();
}

int GlooGroup::rank() const { return context_->rank; }
int GlooGroup::size() const { return context_->size; }

Status GlooGroup::check_usable() {
  std::lock_guard<std::mutex> lock(mu_);
  if (aborted_) return Cancelled("comm was aborted");
  if (!failure_.ok()) {
    return Unavailable("comm failed earlier and cannot be used: " + failure_.ToString());
  }
  return Status::Ok();
}

Status GlooGroup::failure() {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

Status GlooGroup::fail(Status status, bool close) {
  if (status.ok()) return status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failure_.ok()) failure_ = status;
    wake_pending_locked();
  }
  if (close) close_connections();
  return status;
}

void GlooGroup::abort() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (aborted_) return;
    aborted_ = true;
    if (failure_.ok()) failure_ = Cancelled("comm was aborted");
    wake_pending_locked();
  }
  close_connections();
}

void GlooGroup::wake_pending_locked() {
  for (GlooTransfer* t : pending_) t->abort_waits();
}

bool GlooGroup::register_transfer(GlooTransfer* t) {
  std::lock_guard<std::mutex> lock(mu_);
  if (aborted_ || !failure_.ok()) return false;
  pending_.insert(t);
  return true;
}

void GlooGroup::unregister_transfer(GlooTransfer* t) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.erase(t);
}

void GlooGroup::watchdog_loop() {
  Status lost;
  try {
    if (!sentinel_->waitRecv(nullptr, kForever)) return;  // the destructor's abortWaitRecv
    lost = Internal("a peer sent on the sentinel slot");
  } catch (...) {
    lost =
        status_from_current_exception("a connection of rank " + std::to_string(rank()) + " failed");
    if (lost.code() == StatusCode::kInternal) lost = Unavailable(lost.message());
  }
  // No close here: every rank sees a lost peer's connection itself, and a
  // hard close would reset the connections to live peers, discarding messages
  // this rank completed but they have not read yet (e.g. the last barrier
  // before a clean shutdown). A transfer this wakes that had not completed
  // closes when it finishes.
  (void)fail(lost, /*close=*/false);
}

void GlooGroup::close_connections() {
  // Hard close (SO_LINGER 0): peers see a reset at once. Each pair's close is
  // serialised by the pair's own mutex, so racing callers are harmless.
  if (closed_.exchange(true)) return;
  try {
    context_->closeConnections();
  } catch (...) {
    // Closing is best effort; the connections are unusable either way.
  }
}

// --- GlooTransfer ---

GlooTransfer::GlooTransfer(std::shared_ptr<GlooGroup> group, Clock::time_point deadline)
    : group_(std::move(group)), deadline_(deadline) {}

GlooTransfer::~GlooTransfer() {
  if (started_ && !done_) (void)wait();
}

void GlooTransfer::add_send(int peer, const void* data, size_t bytes) {
  Op op;
  op.send = true;
  op.peer = peer;
  op.data = const_cast<void*>(data);  // Gloo only reads a buffer it sends
  op.bytes = bytes;
  ops_.push_back(std::move(op));
}

void GlooTransfer::add_recv(int peer, void* data, size_t bytes) {
  Op op;
  op.send = false;
  op.peer = peer;
  op.data = data;
  op.bytes = bytes;
  ops_.push_back(std::move(op));
}

Status GlooTransfer::start(uint64_t slot) {
  started_ = true;
  slot_ = slot;
  if (Status s = group_->check_usable(); !s.ok()) return finish(s);
  if (ops_.empty()) return finish(Status::Ok());
  try {
    for (Op& op : ops_) op.buf = group_->context().createUnboundBuffer(op.data, op.bytes);
  } catch (...) {
    return finish(status_from_current_exception("creating transfer buffers"));
  }
  if (!group_->register_transfer(this)) return finish(group_->check_usable());
  registered_ = true;
  // Receives first so that a peer's data finds a posted buffer; Gloo's sends
  // are asynchronous (the payload moves once the peer's receive is posted), so
  // the order cannot deadlock.
  for (bool sends : {false, true}) {
    for (Op& op : ops_) {
      if (op.send != sends) continue;
      try {
        if (op.send) {
          op.buf->send(op.peer, slot_);
        } else {
          op.buf->recv(op.peer, slot_);
        }
      } catch (...) {
        Status s = group_->failure();
        if (s.code() != StatusCode::kCancelled) {
          s = status_from_current_exception(std::string(op.send ? "send to" : "recv from") +
                                            " rank " + std::to_string(op.peer));
        }
        return finish(s);
      }
    }
  }
  return Status::Ok();
}

void GlooTransfer::abort_waits() {
  for (Op& op : ops_) {
    if (!op.buf) continue;
    if (op.send) {
      op.buf->abortWaitSend();
    } else {
      op.buf->abortWaitRecv();
    }
  }
}

Status GlooTransfer::wait_one(Op& op) {
  const std::string what = std::string(op.send ? "send of " : "recv of ") +
                           std::to_string(op.bytes) + " bytes " + (op.send ? "to" : "from") +
                           " rank " + std::to_string(op.peer);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
  // Gloo reads a negative timeout as "use the context default": never pass one.
  left = std::max(left, std::chrono::milliseconds(1));
  try {
    bool completed = op.send ? op.buf->waitSend(left) : op.buf->waitRecv(left);
    if (!completed) {
      // Woken by GlooGroup::fail or abort. Gloo reports the wake-up even when
      // the message had already completed (e.g. the last message a peer sent
      // before it closed); the wake-up flag is cleared now, so a second, short
      // wait tells the two apart.
      Status failure = group_->failure();
      bool done = false;
      try {
        done = op.send ? op.buf->waitSend(kRecheck) : op.buf->waitRecv(kRecheck);
      } catch (...) {
        done = false;
      }
      if (!done) return failure.ok() ? Internal(what + ": wait interrupted") : failure;
    }
  } catch (...) {
    Status s = group_->failure();
    if (s.code() == StatusCode::kCancelled) return s;
    s = status_from_current_exception(what);
    if (s.code() != StatusCode::kDeadlineExceeded && Clock::now() >= deadline_) {
      s = DeadlineExceeded(s.message());
    }
    return s;
  }
  if (op.send) group_->add_bytes_sent(op.bytes);
  return Status::Ok();
}

Status GlooTransfer::wait() {
  if (done_) return result_;
  if (!started_) return finish(FailedPrecondition("transfer was never started"));
  Status status;
  for (Op& op : ops_) {
    status = wait_one(op);
    if (!status.ok()) break;
  }
  return finish(status);
}

Status GlooTransfer::finish(Status status) {
  if (registered_) {
    group_->unregister_transfer(this);
    registered_ = false;
  }
  // An error leaves the group broken. Close its connections too: this
  // transfer's unfinished receives stay posted in Gloo, and a live peer's
  // message for one of them, once its buffer is gone, would stall that
  // connection (and spin Gloo's I/O thread) until it closed.
  if (!status.ok()) (void)group_->fail(status, /*close=*/true);
  // Destroying an unbound buffer waits for Gloo's I/O thread to let go of it:
  // after this no byte of the user's buffers is read or written.
  for (Op& op : ops_) op.buf.reset();
  done_ = true;
  result_ = status;
  return status;
}

}  // namespace ringlm
