// Engine: session bookkeeping and the chat / generate entry points.
#include <algorithm>

#include "runtime/engine.h"
#include "runtime/rank_group.h"
#include "runtime/session.h"

namespace ringlm {
namespace {

// Marks a leased session (its `busy` held) running for one request.
class RunningRequest {
 public:
  explicit RunningRequest(Engine::Session& s) : s_(s) {
    std::lock_guard<std::mutex> c(s_.cancel_mu);
    s_.cancel = false;
    s_.running = true;
  }
  ~RunningRequest() {
    std::lock_guard<std::mutex> c(s_.cancel_mu);
    s_.running = false;
  }

 private:
  Engine::Session& s_;
};

}  // namespace

Result<std::shared_ptr<Engine::Session>> Engine::find(SessionId id) const {
  std::lock_guard<std::mutex> l(sessions_mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return NotFound("session " + std::to_string(id) + " not found");
  return it->second;
}

Result<Engine::LeasedSession> Engine::lease(SessionId id) const {
  std::lock_guard<std::mutex> l(sessions_mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return NotFound("session " + std::to_string(id) + " not found");
  // A try-lock: never waits under sessions_mu_.
  LeasedSession ls{it->second, std::unique_lock<std::mutex>(it->second->busy, std::try_to_lock)};
  if (!ls.busy.owns_lock()) return FailedPrecondition("session " + std::to_string(id) + " is busy");
  return ls;
}

Result<SessionId> Engine::open_session(const SessionOptions& opts) {
  auto s = std::make_shared<Session>();
  s->opts = opts;
  if (!opts.system_prompt.empty()) s->messages.push_back({"system", opts.system_prompt});
  std::lock_guard<std::mutex> l(sessions_mu_);
  s->id = next_id_++;
  sessions_[s->id] = s;
  return s->id;
}

Status Engine::close_session(SessionId id) {
  RINGLM_RETURN_IF_ERROR(check_not_in_turn("close_session"));
  RINGLM_ASSIGN_OR_RETURN(LeasedSession ls, lease(id));
  {
    std::lock_guard<std::mutex> run(run_mu_);
    RINGLM_RETURN_IF_ERROR(drop_kv(*ls.session));
  }
  // Erased while leased: a request that finds the session leases it only
  // before this (and then holds the close off) or not at all.
  std::lock_guard<std::mutex> l(sessions_mu_);
  sessions_.erase(id);
  return Status::Ok();
}

Status Engine::cancel(SessionId id) {
  RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<Session> s, find(id));
  std::lock_guard<std::mutex> c(s->cancel_mu);
  if (s->running) s->cancel = true;
  return Status::Ok();
}

Result<std::vector<int32_t>> Engine::session_tokens(SessionId id) const {
  RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<Session> s, find(id));
  // Never waits for a request (which holds `busy` while it waits for the
  // ring, run_mu_), as an event callback of a turn holding the ring may call
  // this; state_mu makes the copy whole.
  if (s->running) return FailedPrecondition("session " + std::to_string(id) + " is busy");
  std::lock_guard<std::mutex> state(s->state_mu);
  return s->history();
}

Result<std::vector<ChatMessage>> Engine::session_messages(SessionId id) const {
  RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<Session> s, find(id));
  if (s->running) return FailedPrecondition("session " + std::to_string(id) + " is busy");
  std::lock_guard<std::mutex> state(s->state_mu);  // as session_tokens
  return s->messages;
}

Result<std::vector<int32_t>> Engine::chat_prompt(const std::vector<ChatMessage>& messages,
                                                 bool add_generation_prompt) const {
  const PromptText text = template_->render_prompt(messages, add_generation_prompt);
  // Message content is plain text: control-token texts typed into it stay
  // text. The BOS token is added unless the template wrote it already.
  const int32_t bos = tokenizer_->bos();
  const bool has_bos = bos >= 0 && !tokenizer_->token_text(bos).empty() &&
                       text.text.starts_with(tokenizer_->token_text(bos)) &&
                       (text.content.empty() || text.content.front().first > 0);
  return tokenizer_->encode_prompt(text.text, /*add_special=*/!has_bos, text.content);
}

Result<TurnResult> Engine::chat(SessionId id, std::span<const ChatMessage> new_messages,
                                const GenerateOptions& opts, const TurnEvents& events) {
  RINGLM_RETURN_IF_ERROR(check_not_in_turn("a request"));
  RINGLM_ASSIGN_OR_RETURN(LeasedSession ls, lease(id));
  const std::shared_ptr<Session>& s = ls.session;
  RunningRequest running(*s);
  if (new_messages.empty()) return InvalidArgument("chat: no messages");
  for (const ChatMessage& m : new_messages) {
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      return InvalidArgument("chat: unknown role '" + m.role + "' (system, user or assistant)");
  }
  std::vector<ChatMessage> all = s->messages;
  all.insert(all.end(), new_messages.begin(), new_messages.end());
  RINGLM_ASSIGN_OR_RETURN(std::vector<int32_t> prompt,
                          chat_prompt(all, /*add_generation_prompt=*/true));
  RINGLM_ASSIGN_OR_RETURN(TurnResult r, run_turn(*s, std::move(prompt), opts, events));
  all.push_back({"assistant", r.text});
  std::lock_guard<std::mutex> state(s->state_mu);
  s->messages = std::move(all);
  s->unfed.clear();  // the transcript is the history in chat mode
  return r;
}

Result<TurnResult> Engine::generate(SessionId id, std::span<const int32_t> new_tokens,
                                    const GenerateOptions& opts, const TurnEvents& events) {
  RINGLM_RETURN_IF_ERROR(check_not_in_turn("a request"));
  RINGLM_ASSIGN_OR_RETURN(LeasedSession ls, lease(id));
  const std::shared_ptr<Session>& s = ls.session;
  RunningRequest running(*s);
  if (new_tokens.empty()) return InvalidArgument("generate: no tokens");
  for (int32_t t : new_tokens) {
    if (t < 0 || t >= tokenizer_->vocab_size())
      return InvalidArgument("generate: token id " + std::to_string(t) +
                             " outside the vocabulary of " +
                             std::to_string(tokenizer_->vocab_size()));
  }
  std::vector<int32_t> history = s->history();  // the lease keeps it still
  const size_t before = history.size();
  history.insert(history.end(), new_tokens.begin(), new_tokens.end());
  Result<TurnResult> r = run_turn(*s, history, opts, events);
  if (r.ok()) {
    history.insert(history.end(), r->tokens.begin(), r->tokens.end());
  } else {
    history.resize(before);  // the history as it was
  }
  std::lock_guard<std::mutex> run(run_mu_);  // kv_resident: eviction by another turn
  if (s->kv_resident && common_prefix(s->tokens, history) == s->tokens.size()) {
    // The KV holds a prefix of the history: the rest is prefilled next time.
    std::lock_guard<std::mutex> state(s->state_mu);
    s->unfed.assign(history.begin() + int64_t(s->tokens.size()), history.end());
    return r;
  }
  if (s->kv_resident) {
    // Only if a failed turn could not roll its KV back (a broken group): the
    // ranks' KV no longer matches the history. Dropped, so that no later
    // prefill lands on top of it; if even that fails, later steps fail too.
    (void)drop_kv(*s);
    s->kv_resident = false;
    s->evicted = true;
  }
  // Evicted (or dropped by the roll-back): the tokens carry the history for
  // the prefill that rebuilds the KV.
  std::lock_guard<std::mutex> state(s->state_mu);
  s->tokens = std::move(history);
  s->unfed.clear();
  return r;
}

}  // namespace ringlm
