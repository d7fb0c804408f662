// Engine: prefix sharing. Sessions over the same document or system prompt
// start from one prefill: a session without KV whose prompt begins with
// tokens another session's KV holds takes a copy of that KV (CopyKv on
// every rank, positions below the shared length) instead of prefilling them.
// The copy shares the other session's KV pages until either writes into one
// (copy-on-write, KvStore::copy), so the shared prefix is held once.
// The KV of a prefix depends only on its tokens and positions, so the copy
// is what the session's own prefill would compute (up to the order of
// floating-point sums, as with any reuse of a cached prefix).
#include <algorithm>

#include "runtime/engine.h"
#include "runtime/rank_group.h"
#include "runtime/session.h"

namespace ringlm {

Result<int64_t> Engine::share_prefix(Session& s, std::span<const int32_t> prompt) {
  const int64_t min_tokens = opts_.share_prefix_min_tokens;
  if (min_tokens <= 0 || s.kv_resident) return int64_t(0);
  // At least one token is left to prefill: the turn samples from its logits.
  const int64_t limit = int64_t(prompt.size()) - 1;
  if (limit < min_tokens) return int64_t(0);
  // The resident session sharing the longest prefix. Every session's KV
  // fields are still: the caller holds run_mu_.
  std::shared_ptr<Session> best;
  int64_t best_len = 0;
  {
    std::lock_guard<std::mutex> l(sessions_mu_);
    for (const auto& [id, t] : sessions_) {
      if (t.get() == &s || !t->kv_resident) continue;
      const int64_t len = std::min(limit, int64_t(common_prefix(prompt, t->tokens)));
      if (len > best_len) best_len = len, best = t;
    }
  }
  if (!best || best_len < min_tokens) return int64_t(0);
  // A first prefill that failed may have left an empty sequence on the ranks.
  (void)group_->leader().lead(make_step_plan(fb::StepKind::Drop, s.id));
  StepOutcome o = group_->leader().lead(make_copy_plan(best->id, s.id, int32_t(best_len)));
  RINGLM_RETURN_IF_ERROR(o.status);
  std::lock_guard<std::mutex> state(s.state_mu);
  s.tokens.assign(prompt.begin(), prompt.begin() + best_len);
  s.kv_resident = true;
  return best_len;
}

}  // namespace ringlm
