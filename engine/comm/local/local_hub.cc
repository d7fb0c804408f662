#include "comm/local/local_hub.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <utility>

namespace ringlm {

using State = LocalMessage::State;

// --- LocalHub ---

Status LocalHub::check_usable_locked(int rank) const {
  if (aborted_[size_t(rank)]) return Cancelled("comm was aborted");
  if (!failure_.ok())
    return Unavailable("comm failed earlier and cannot be used: " + failure_.ToString());
  return Status::Ok();
}

Status LocalHub::check_usable(int rank) {
  std::lock_guard<std::mutex> lock(mu_);
  return check_usable_locked(rank);
}

bool LocalHub::failed() {
  std::lock_guard<std::mutex> lock(mu_);
  return !failure_.ok();
}

Status LocalHub::fail(Status status) {
  if (status.ok()) return status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failure_.ok()) failure_ = status;
  }
  cv_.notify_all();
  return status;
}

void LocalHub::abort(int rank) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    aborted_[size_t(rank)] = true;
    if (failure_.ok()) failure_ = Cancelled("rank " + std::to_string(rank) + " aborted its comm");
  }
  cv_.notify_all();
}

void LocalHub::leave(int rank) {
  (void)fail(Unavailable("rank " + std::to_string(rank) + " left the group"));
}

Status LocalHub::post_locked(int me, uint64_t slot, LocalMessage* m,
                             std::vector<std::pair<LocalMessage*, LocalMessage*>>* copies) {
  const Key key = m->send ? Key{me, m->peer, slot} : Key{m->peer, me, slot};
  // Room for the pair first: nothing below may throw once a partner is
  // marked as being copied (its owner would wait for a copy never made).
  copies->reserve(copies->size() + 1);
  auto& partners = m->send ? recvs_ : sends_;
  auto it = partners.find(key);
  if (it != partners.end() && it->second.empty()) {  // left by a push_back that threw
    partners.erase(it);
    it = partners.end();
  }
  if (it == partners.end()) {
    (m->send ? sends_ : recvs_)[key].push_back(m);
    m->state = State::kPosted;
    return Status::Ok();
  }
  LocalMessage* p = it->second.front();
  it->second.erase(it->second.begin());
  if (it->second.empty()) partners.erase(it);
  if (p->bytes != m->bytes) {
    // Both ends disagree on the message: a programmer error, and the group
    // cannot tell which one to trust.
    m->state = State::kPosted;
    const LocalMessage* s = m->send ? m : p;
    const LocalMessage* r = m->send ? p : m;
    if (failure_.ok())
      failure_ = Internal("message size mismatch on slot " + std::to_string(slot) + ": rank " +
                          std::to_string(s->owner) + " sends " + std::to_string(s->bytes) +
                          " bytes, rank " + std::to_string(r->owner) + " expects " +
                          std::to_string(r->bytes));
    cv_.notify_all();
    return failure_;
  }
  m->state = p->state = State::kCopying;
  copies->emplace_back(m->send ? m : p, m->send ? p : m);
  return Status::Ok();
}

void LocalHub::withdraw_locked(int me, uint64_t slot, LocalMessage* m) {
  const Key key = m->send ? Key{me, m->peer, slot} : Key{m->peer, me, slot};
  auto& own = m->send ? sends_ : recvs_;
  auto it = own.find(key);
  if (it == own.end()) return;
  auto& q = it->second;
  q.erase(std::remove(q.begin(), q.end(), m), q.end());
  if (q.empty()) own.erase(it);
}

void LocalHub::copy(const std::vector<std::pair<LocalMessage*, LocalMessage*>>& copies) {
  if (copies.empty()) return;
  for (const auto& [s, r] : copies) std::memcpy(r->data, s->data, s->bytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [s, r] : copies) {
      s->state = r->state = State::kDone;
      sent_[size_t(s->owner)] += s->bytes;
    }
  }
  cv_.notify_all();
}

// --- LocalTransfer ---

LocalTransfer::~LocalTransfer() {
  if (started_ && !done_) (void)wait();
}

void LocalTransfer::add_send(int peer, const void* data, size_t bytes) {
  auto m = std::make_unique<LocalMessage>();
  m->send = true;
  m->owner = rank_;
  m->peer = peer;
  m->data = const_cast<void*>(data);  // only read
  m->bytes = bytes;
  messages_.push_back(std::move(m));
}

void LocalTransfer::add_recv(int peer, void* data, size_t bytes) {
  auto m = std::make_unique<LocalMessage>();
  m->owner = rank_;
  m->peer = peer;
  m->data = data;
  m->bytes = bytes;
  messages_.push_back(std::move(m));
}

Status LocalTransfer::start(uint64_t slot) {
  started_ = true;
  slot_ = slot;
  std::vector<std::pair<LocalMessage*, LocalMessage*>> copies;
  Status error;
  {
    std::unique_lock<std::mutex> lock(hub_->mu_);
    error = hub_->check_usable_locked(rank_);
    for (size_t i = 0; error.ok() && i < messages_.size(); ++i) {
      try {
        error = hub_->post_locked(rank_, slot_, messages_[i].get(), &copies);
      } catch (const std::bad_alloc&) {  // the hub's queues: this message was not posted
        error = ResourceExhausted("rank " + std::to_string(rank_) +
                                  ": no memory to post a message");
      }
    }
  }
  // The pairs this rank completed are copied in any case: their partners'
  // owners wait for them.
  hub_->copy(copies);
  if (error.ok()) return Status::Ok();
  std::unique_lock<std::mutex> lock(hub_->mu_);
  return finish_locked(lock, error);
}

bool LocalTransfer::all_done_locked() const {
  for (const auto& m : messages_)
    if (m->state != State::kDone) return false;
  return true;
}

Status LocalTransfer::wait() {
  if (done_) return result_;
  if (!started_) {
    done_ = true;
    result_ = FailedPrecondition("transfer was never started");
    return result_;
  }
  std::unique_lock<std::mutex> lock(hub_->mu_);
  for (;;) {
    // A transfer that completed before a failure still succeeds.
    if (all_done_locked()) return finish_locked(lock, Status::Ok());
    // A copy in progress ends on its own (its copier only runs memcpy): its
    // outcome, not a failure or the deadline meanwhile, decides.
    if (std::any_of(messages_.begin(), messages_.end(),
                    [](const auto& m) { return m->state == State::kCopying; })) {
      hub_->cv_.wait(lock);
      continue;
    }
    if (!hub_->failure_.ok()) return finish_locked(lock, hub_->check_usable_locked(rank_));
    if (LocalHub::Clock::now() >= deadline_) {
      Status st = DeadlineExceeded("rank " + std::to_string(rank_) +
                                   ": a peer did not post its side of a transfer on slot " +
                                   std::to_string(slot_) + " within the deadline");
      hub_->failure_ = st;  // the first failure: checked above
      hub_->cv_.notify_all();
      return finish_locked(lock, st);
    }
    hub_->cv_.wait_until(lock, deadline_);
  }
}

Status LocalTransfer::finish_locked(std::unique_lock<std::mutex>& lock, Status status) {
  for (const auto& m : messages_)
    if (m->state == State::kPosted) hub_->withdraw_locked(rank_, slot_, m.get());
  // A copy in progress reads or writes this transfer's buffers: wait for it.
  hub_->cv_.wait(lock, [this] {
    for (const auto& m : messages_)
      if (m->state == State::kCopying) return false;
    return true;
  });
  if (!status.ok() && hub_->failure_.ok()) {
    hub_->failure_ = status;
    hub_->cv_.notify_all();
  }
  done_ = true;
  result_ = status;
  return status;
}

}  // namespace ringlm
