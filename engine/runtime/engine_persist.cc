// Engine: saving a session to a file and restoring it.
#include <algorithm>

#include "kv/paged_kv_store.h"
#include "runtime/engine.h"
#include "runtime/rank_group.h"
#include "runtime/session.h"
#include "runtime/session_file.h"

namespace ringlm {
namespace {

constexpr size_t kMaxSessionFileBytes = size_t(1) << 40;

}  // namespace

Status Engine::save_session(SessionId id, const std::string& path) {
  RINGLM_RETURN_IF_ERROR(check_not_in_turn("save_session"));
  RINGLM_ASSIGN_OR_RETURN(LeasedSession ls, lease(id));
  const std::shared_ptr<Session>& s = ls.session;
  SessionFile f;
  f.engine_version = info_.version;
  f.model_fingerprint = info_.model_fingerprint;
  f.world_size = uint32_t(group_->world_size());
  f.messages = s->messages;
  // The one copy of the KV on the leader's host: every rank's shard as it
  // arrived (the leader's own moved in), written to the file from here.
  std::vector<std::vector<uint8_t>> shards;
  {
    std::lock_guard<std::mutex> run(run_mu_);
    f.decode_steps = s->decode_steps;
    f.tokens = s->tokens;
    f.unfed = s->unfed;
    if (s->kv_resident) {
      StepOutcome o = group_->leader().lead_export(s->id);
      RINGLM_RETURN_IF_ERROR(o.status.WithContext("saving the KV shards"));
      shards = std::move(o.shards);
    }
  }
  f.shards.assign(shards.begin(), shards.end());
  return write_session_file(path, f);
}

Result<SessionId> Engine::restore_session(const std::string& path) {
  RINGLM_RETURN_IF_ERROR(check_not_in_turn("restore_session"));
  RINGLM_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_whole_file(path, kMaxSessionFileBytes));
  // f.shards point into `bytes`: the ranks import them from there (no copy),
  // and the buffer is freed once they are in (or not needed).
  RINGLM_ASSIGN_OR_RETURN(SessionFile f, decode_session_file(bytes));
  auto release_file = [&] {
    f.shards.clear();
    std::vector<uint8_t>().swap(bytes);
  };
  if (f.model_fingerprint != info_.model_fingerprint)
    return InvalidArgument("session file " + path + " was saved with another model (fingerprint " +
                           std::to_string(f.model_fingerprint) + ", this model " +
                           std::to_string(info_.model_fingerprint) + ")");
  // The KV holds at most the context; the reply's unfed last token may follow.
  if (int64_t(f.tokens.size()) > info_.model.context_length ||
      int64_t(f.tokens.size() + f.unfed.size()) > info_.model.context_length + 1)
    return CorruptData("session file holds more tokens than the model's context");
  for (const std::vector<int32_t>* v : {&f.tokens, &f.unfed}) {
    for (int32_t t : *v) {
      if (t < 0 || t >= tokenizer_->vocab_size())
        return CorruptData("session file holds a bad token id");
    }
  }
  auto s = std::make_shared<Session>();
  s->messages = std::move(f.messages);
  s->unfed = std::move(f.unfed);
  s->decode_steps = f.decode_steps;
  {
    std::lock_guard<std::mutex> l(sessions_mu_);
    s->id = next_id_++;
  }
  {
    std::lock_guard<std::mutex> run(run_mu_);
    s->last_used = ++clock_;
    if (!f.tokens.empty() && int(f.world_size) == group_->world_size() && !f.shards.empty()) {
      // The shards together must hold each position 0 .. n-1 exactly once.
      std::vector<int32_t> all;
      for (std::span<const uint8_t> shard : f.shards) {
        RINGLM_ASSIGN_OR_RETURN(std::vector<int32_t> pos, paged_kv_state_positions(shard));
        all.insert(all.end(), pos.begin(), pos.end());
      }
      std::sort(all.begin(), all.end());
      bool exact = all.size() == f.tokens.size();
      for (size_t i = 0; exact && i < all.size(); ++i) exact = all[i] == int32_t(i);
      if (!exact)
        return CorruptData("session file KV shards do not hold positions 0 .. " +
                           std::to_string(int64_t(f.tokens.size()) - 1) + " once each");
      // Same N: each rank takes its shard back as it was, idle sessions
      // evicted while the KV budget is short (none when no eviction could
      // make room: the whole history, or a shard, beyond the budgets).
      RINGLM_RETURN_IF_ERROR(check_kv_fits(int64_t(f.tokens.size())));
      StepOutcome o;
      for (;;) {
        o = group_->leader().lead_import(s->id, f.shards);
        if (o.status.code() != StatusCode::kResourceExhausted) break;
        if (Status beyond = kv_beyond_budget_status(o.reports); !beyond.ok()) {
          o.status = beyond;
          break;
        }
        if (!evict_one(*s).ok()) break;
      }
      release_file();
      RINGLM_RETURN_IF_ERROR(o.status.WithContext("restoring the KV shards"));
      s->kv_resident = true;
      int64_t total = 0;
      for (const StepReport& r : o.reports) total += r.kv_tokens;
      if (total != int64_t(f.tokens.size())) {
        (void)drop_kv(*s);
        return CorruptData("session file KV shards do not match its token history");
      }
      s->tokens = std::move(f.tokens);
    } else if (!f.tokens.empty()) {
      // Another N (or no KV saved): rebuild the KV by prefill of the history.
      release_file();
      TurnResult tr;
      Status st = prefill(*s, f.tokens, GenerateOptions{}, TurnEvents{}, &tr);
      if (!st.ok()) {
        roll_back_kv(*s, 0);  // also the empty sequence a failed first step leaves
        return st.WithContext("rebuilding the session's KV");
      }
    }
  }
  std::lock_guard<std::mutex> l(sessions_mu_);
  sessions_[s->id] = s;
  return s->id;
}

}  // namespace ringlm
