// Engine: editing a conversation: rewinding a session to an earlier point,
// and forking it (a copy with its KV, continued on its own).
#include <algorithm>

#include "runtime/engine.h"
#include "runtime/rank_group.h"
#include "runtime/session.h"

namespace ringlm {
namespace {

Status out_of_range(const char* what, int64_t keep, size_t size) {
  return OutOfRange(std::string("rewind: ") + what + " " + std::to_string(keep) + " outside [0, " +
                    std::to_string(size) + "]");
}

}  // namespace

Status Engine::cut_history(Session& s, size_t keep) {
  if (s.tokens.size() <= keep) return Status::Ok();
  if (s.kv_resident) {
    StepOutcome o = group_->leader().lead(make_step_plan(fb::StepKind::Truncate, s.id, {}, 0,
                                                         CpVariant::kAuto, 0, int32_t(keep)));
    if (!o.status.ok()) {
      // Some ranks may have cut their shard and others not: the KV goes,
      // and the next turn rebuilds it from the history.
      if (!drop_kv(s).ok()) return o.status;
      s.evicted = true;
    }
  }
  std::lock_guard<std::mutex> state(s.state_mu);
  s.tokens.resize(keep);
  return Status::Ok();
}

Status Engine::rewind_session(SessionId id, int64_t keep_messages) {
  RINGLM_RETURN_IF_ERROR(check_not_in_turn("rewind_session"));
  RINGLM_ASSIGN_OR_RETURN(LeasedSession ls, lease(id));
  Session& s = *ls.session;
  if (keep_messages < 0 || size_t(keep_messages) > s.messages.size())
    return out_of_range("keep_messages", keep_messages, s.messages.size());
  if (size_t(keep_messages) == s.messages.size()) return Status::Ok();
  // The KV to keep: the tokens the history shares with the prompt of the
  // kept messages followed by an empty user message, which every next turn
  // that sends a user message starts with (the template's own additions
  // included, e.g. a default system prompt it writes only before a first
  // message). The next turn cuts whatever of it its prompt does not share.
  const std::vector<ChatMessage> kept(s.messages.begin(), s.messages.begin() + keep_messages);
  std::vector<ChatMessage> probe = kept;
  probe.push_back({"user", ""});
  RINGLM_ASSIGN_OR_RETURN(std::vector<int32_t> prefix,
                          chat_prompt(probe, /*add_generation_prompt=*/false));
  {
    std::lock_guard<std::mutex> run(run_mu_);
    RINGLM_RETURN_IF_ERROR(cut_history(s, common_prefix(prefix, s.tokens)));
  }
  std::lock_guard<std::mutex> state(s.state_mu);
  s.messages = kept;
  s.unfed.clear();
  return Status::Ok();
}

Status Engine::rewind_tokens(SessionId id, int64_t keep_tokens) {
  RINGLM_RETURN_IF_ERROR(check_not_in_turn("rewind_tokens"));
  RINGLM_ASSIGN_OR_RETURN(LeasedSession ls, lease(id));
  Session& s = *ls.session;
  const size_t size = s.tokens.size() + s.unfed.size();
  if (keep_tokens < 0 || size_t(keep_tokens) > size)
    return out_of_range("keep_tokens", keep_tokens, size);
  const size_t keep = size_t(keep_tokens);
  if (keep < s.tokens.size()) {
    std::lock_guard<std::mutex> run(run_mu_);
    RINGLM_RETURN_IF_ERROR(cut_history(s, keep));
  }
  std::lock_guard<std::mutex> state(s.state_mu);
  s.unfed.resize(keep - s.tokens.size());
  return Status::Ok();
}

Result<SessionId> Engine::fork_session(SessionId id) {
  RINGLM_RETURN_IF_ERROR(check_not_in_turn("fork_session"));
  RINGLM_ASSIGN_OR_RETURN(LeasedSession ls, lease(id));
  Session& src = *ls.session;
  auto f = std::make_shared<Session>();
  f->opts = src.opts;
  f->messages = src.messages;
  {
    std::lock_guard<std::mutex> l(sessions_mu_);
    f->id = next_id_++;
  }
  {
    std::lock_guard<std::mutex> run(run_mu_);  // guards the KV fields
    f->tokens = src.tokens;
    f->unfed = src.unfed;
    f->decode_steps = src.decode_steps;
    f->evicted = src.evicted;
    src.last_used = f->last_used = ++clock_;
    if (src.kv_resident) {
      // The copy shares the source's KV pages (copy-on-write, KvStore::copy):
      // it takes no memory until one of the two writes into a shared page.
      StepOutcome o = group_->leader().lead(make_copy_plan(src.id, f->id));
      RINGLM_RETURN_IF_ERROR(o.status);
      f->kv_resident = true;
    }
  }
  std::lock_guard<std::mutex> l(sessions_mu_);
  sessions_[f->id] = f;
  return f->id;
}

}  // namespace ringlm
