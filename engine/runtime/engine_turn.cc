// Engine: one request on the ring: prefill what the KV lacks, then decode.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/timer.h"
#include "cp/sharding.h"
#include "runtime/engine.h"
#include "runtime/rank_group.h"
#include "runtime/session.h"
#include "tokenizer/stream_decoder.h"

namespace ringlm {
namespace {

void add_reports(const std::vector<StepReport>& reports, TurnStats* st) {
  if (st->bytes_sent.size() != reports.size()) {
    st->bytes_sent.assign(reports.size(), 0);
    st->kv_tokens.assign(reports.size(), 0);
    st->kv_bytes.assign(reports.size(), 0);
  }
  double exposed = 0, total = 0;
  for (size_t r = 0; r < reports.size(); ++r) {
    st->bytes_sent[r] += reports[r].bytes_sent;
    st->kv_tokens[r] = reports[r].kv_tokens;
    st->kv_bytes[r] = reports[r].kv_bytes;
    exposed = std::max(exposed, reports[r].comm_exposed_ms);
    total = std::max(total, reports[r].comm_total_ms);
  }
  st->comm_exposed_ms += exposed;
  st->comm_hidden_ms += std::max(0.0, total - exposed);
}

// The model's logits are numbers: a NaN or +inf (broken weights, or an
// overflow on this input) fails the request, also one that samples nothing
// (max_tokens 0 returns the prompt's logits); -inf rules a token out.
Status check_logits(std::span<const float> logits) {
  for (float x : logits) {
    if (std::isnan(x) || x == std::numeric_limits<float>::infinity())
      return CorruptData(std::string("the model's logits are not numbers (") +
                         (std::isnan(x) ? "NaN" : "+inf") +
                         "): its weights, or the computation on this input, are broken");
  }
  return Status::Ok();
}

// Engines whose turn runs on this thread (their event callbacks may call in).
thread_local std::vector<const Engine*> t_turns;

class TurnOnThread {
 public:
  explicit TurnOnThread(const Engine* e) { t_turns.push_back(e); }
  ~TurnOnThread() { t_turns.pop_back(); }
};

}  // namespace

Status Engine::check_not_in_turn(const char* what) const {
  if (std::find(t_turns.begin(), t_turns.end(), this) == t_turns.end()) return Status::Ok();
  return FailedPrecondition(std::string(what) +
                            " called from an event callback of the same engine, whose request "
                            "holds the ring until the callback returns");
}

Result<StepOutcome> Engine::run_step(Session& s, std::vector<uint8_t> plan, TurnStats* stats,
                                     bool* kv_full) {
  for (;;) {
    StepOutcome o = group_->leader().lead(plan);
    if (o.status.ok()) {
      if (stats) add_reports(o.reports, stats);
      return o;
    }
    if (o.status.code() != StatusCode::kResourceExhausted) return o.status;
    if (Status beyond = kv_beyond_budget_status(o.reports); !beyond.ok()) {
      // The session alone would outgrow a rank's budget: evicting others
      // cannot help, so nothing is evicted.
      if (kv_full) *kv_full = true;
      return beyond;
    }
    // KV budget short on some rank: evict the least recently used idle session.
    Status ev = evict_one(s);
    if (!ev.ok()) return o.status.WithContext("no idle session left to evict");
    if (stats) ++stats->evictions;
  }
}

Status Engine::drop_kv(Session& s) {
  if (!s.kv_resident) return Status::Ok();
  StepOutcome o = group_->leader().lead(make_step_plan(fb::StepKind::Drop, s.id));
  RINGLM_RETURN_IF_ERROR(o.status);
  s.kv_resident = false;
  return Status::Ok();
}

Status Engine::check_kv_fits(int64_t tokens) const {
  const int n = group_->world_size();
  const int64_t capacity = group_->kv_capacity();
  if (tokens <= capacity) return Status::Ok();
  return ResourceExhausted(
      "the session's KV would hold " + std::to_string(tokens) + " tokens, more than " +
      (n == 1 ? std::string("the KV budget holds")
              : "the KV budgets of all " + std::to_string(n) + " ranks hold together") +
      " (" + std::to_string(capacity) + " tokens): no eviction can make room");
}

Status Engine::evict_one(const Session& keep) {
  std::shared_ptr<Session> victim;
  {
    std::lock_guard<std::mutex> l(sessions_mu_);
    for (auto& [id, s] : sessions_) {
      if (s.get() == &keep || !s->kv_resident) continue;
      if (!victim || s->last_used < victim->last_used) victim = s;
    }
  }
  if (!victim) return ResourceExhausted("no idle session to evict");
  // The session keeps its token history and transcript; its next turn
  // rebuilds the KV by prefill.
  RINGLM_RETURN_IF_ERROR(drop_kv(*victim));
  victim->evicted = true;
  return Status::Ok();
}

Result<TurnResult> Engine::run_turn(Session& s, std::vector<int32_t> prompt,
                                    const GenerateOptions& opts, const TurnEvents& events) {
  RINGLM_RETURN_IF_ERROR(Sampler::Validate(opts.sampling));
  if (opts.max_tokens < 0) return InvalidArgument("max_tokens must be >= 0");
  RINGLM_RETURN_IF_ERROR(check_top_logprobs(opts.top_logprobs));
  const int64_t ctx = info_.model.context_length;
  if (int64_t(prompt.size()) > ctx)
    return OutOfRange("prompt of " + std::to_string(prompt.size()) +
                      " tokens does not fit the context of " + std::to_string(ctx) + " tokens");
  std::lock_guard<std::mutex> run(run_mu_);
  const TurnOnThread on_thread(this);
  // Before the cached suffix the prompt does not share is dropped.
  RINGLM_RETURN_IF_ERROR(check_kv_fits(int64_t(prompt.size())));
  s.last_used = ++clock_;
  TurnResult out;
  out.stats.world_size = group_->world_size();
  out.stats.rebuilt = s.evicted;

  // Reuse the longest cached prefix; at least one token is prefilled so the
  // turn has logits to sample from.
  int64_t common = 0;
  if (s.kv_resident) {
    common = std::min<int64_t>(int64_t(common_prefix(s.tokens, prompt)),
                               int64_t(prompt.size()) - 1);
    if (common < int64_t(s.tokens.size())) {
      StepOutcome o = group_->leader().lead(make_step_plan(fb::StepKind::Truncate, s.id, {}, 0,
                                                           CpVariant::kAuto, 0, int32_t(common)));
      RINGLM_RETURN_IF_ERROR(o.status);
    }
  }
  {
    std::lock_guard<std::mutex> state(s.state_mu);
    s.tokens.resize(std::min<size_t>(s.tokens.size(), size_t(common)));
    if (!s.kv_resident) s.tokens.clear();
  }
  RINGLM_ASSIGN_OR_RETURN(const int64_t shared, share_prefix(s, prompt));
  if (shared > 0) common = out.stats.shared_tokens = shared;
  out.stats.cached_tokens = common;

  // The caller's callbacks, guarded: one that throws stops the turn at the
  // next step and fails it (rolled back) instead of unwinding through it.
  Status callback_error;
  auto guarded = [&](auto& fn) {
    return [&](auto... args) {
      if (!fn || !callback_error.ok()) return;
      try {
        fn(args...);
      } catch (...) {
        callback_error = current_exception_status().WithContext("an event callback threw");
        s.cancel = true;
      }
    };
  };
  TurnEvents safe;
  safe.on_text = guarded(events.on_text);
  safe.on_progress = guarded(events.on_progress);

  Status st = prefill(s, std::span(prompt).subspan(common), opts, safe, &out);
  if (st.ok() && s.kv_resident) s.evicted = false;
  if (st.ok() && out.finish != FinishReason::kCancelled) st = decode(s, opts, safe, &out);
  if (st.ok()) st = callback_error;
  if (!st.ok()) {
    if (shared > 0) {
      // The session held no KV before the turn: the copied prefix goes too.
      if (drop_kv(s).ok()) {
        std::lock_guard<std::mutex> state(s.state_mu);
        s.tokens.clear();
      } else {
        roll_back_kv(s, 0);
      }
    } else {
      roll_back_kv(s, size_t(common));
    }
    return st;
  }
  return out;
}

void Engine::roll_back_kv(Session& s, size_t keep) {
  if (!s.kv_resident) {
    // A first prefill that failed may have left an empty sequence on the ranks.
    (void)group_->leader().lead(make_step_plan(fb::StepKind::Drop, s.id));
    std::lock_guard<std::mutex> state(s.state_mu);
    s.tokens.clear();
    return;
  }
  // Truncated, or dropped (then rebuilt by the next turn); on a broken
  // group, later requests fail as well.
  (void)cut_history(s, keep);
}

Status Engine::prefill(Session& s, std::span<const int32_t> prompt, const GenerateOptions& opts,
                       const TurnEvents& events, TurnResult* out) {
  const int n = group_->world_size();
  const ModelConfig& c = info_.model;
  const int64_t total = int64_t(prompt.size());
  RINGLM_RETURN_IF_ERROR(check_kv_fits(int64_t(s.tokens.size()) + total));
  Timer timer;
  for (int64_t off = 0; off < total; off += opts_.prefill_chunk) {
    if (off > 0 && s.cancel) {  // the first step always runs
      out->finish = FinishReason::kCancelled;
      break;
    }
    const int64_t len = std::min<int64_t>(opts_.prefill_chunk, total - off);
    const int64_t start = int64_t(s.tokens.size());
    CpVariant variant = CpVariant::kAuto;
    if (n > 1) {
      PolicyInputs in;
      in.new_tokens = len;
      in.cached_tokens = start;
      in.world_size = n;
      in.hq = c.n_heads;
      in.hkv = c.n_kv_heads;
      in.head_dim = c.head_dim;
      in.elem_bytes = 4;  // queries travel as f32 activations
      in.kv_elem_bytes =
          double(kernels::kv_elem_bytes(info_.kv_type));  // K/V as the cache holds them
      in.calib = group_->calibration();
      in.forced = opts.variant != CpVariant::kAuto ? opts.variant : opts_.variant;
      RINGLM_ASSIGN_OR_RETURN(PolicyDecision d, choose_cp_variant(in));
      variant = d.variant;
      out->stats.variant = cp_variant_name(variant);
    }
    const bool last = off + len == total;
    auto plan = make_step_plan(fb::StepKind::Prefill, s.id, prompt.subspan(off, len),
                               int32_t(start), variant, 0, 0, last);
    RINGLM_ASSIGN_OR_RETURN(StepOutcome o, run_step(s, std::move(plan), &out->stats));
    s.kv_resident = true;
    {
      std::lock_guard<std::mutex> state(s.state_mu);
      s.tokens.insert(s.tokens.end(), prompt.begin() + off, prompt.begin() + off + len);
    }
    out->stats.new_tokens += len;
    if (last) {
      RINGLM_RETURN_IF_ERROR(check_logits(o.logits));
      out->prompt_logits = std::move(o.logits);
    }
    if (events.on_progress) events.on_progress(off + len, total);
  }
  out->stats.prefill_ms = timer.ms();
  if (out->stats.new_tokens > 0 && out->stats.prefill_ms > 0)
    out->stats.prefill_tok_s = out->stats.new_tokens / (out->stats.prefill_ms / 1000.0);
  return Status::Ok();
}

Status Engine::decode(Session& s, const GenerateOptions& opts, const TurnEvents& events,
                      TurnResult* out) {
  const int n = group_->world_size();
  const int64_t ctx = info_.model.context_length;
  std::vector<float> logits = out->prompt_logits;
  if (!opts.want_prompt_logits) out->prompt_logits.clear();
  Sampler sampler(opts.sampling);
  StreamDecoder detok(tokenizer_.get(), /*render_control=*/false);
  StopStringMatcher stops(opts.stop);
  out->stats.decode_variant = n > 1 ? decode_variant_name(opts_.decode_variant) : "local";
  Timer timer;
  auto emit = [&](const std::string& text, std::span<const int32_t> toks) {
    if (text.empty() && toks.empty()) return;
    out->text += text;
    if (events.on_text) events.on_text(text, toks);
  };
  out->finish = FinishReason::kLength;
  for (int i = 0; i < opts.max_tokens; ++i) {
    if (s.cancel) {
      out->finish = FinishReason::kCancelled;
      break;
    }
    Result<int32_t> sampled = sampler.sample(logits, s.tokens);
    if (!sampled.ok()) {
      // The sampling options were checked before the turn: what fails here
      // is the model's output (a NaN or +inf logit), not the request.
      return CorruptData("the model's logits are not numbers (" + sampled.status().message() +
                         "): its weights, or the computation on this input, are broken");
    }
    const int32_t tok = sampled.value();
    if (tokenizer_->is_end_of_generation(tok)) {
      out->finish = FinishReason::kStop;
      break;
    }
    out->tokens.push_back(tok);
    if (opts.logprobs || opts.top_logprobs > 0)
      out->logprobs.push_back(token_logprob(logits, tok, opts.top_logprobs));
    ++out->stats.generated_tokens;
    StopMatch m = stops.push(detok.push(tok));
    emit(m.emit, {&tok, 1});
    if (m.stopped) {
      out->finish = FinishReason::kStop;
      break;
    }
    if (i + 1 == opts.max_tokens) break;
    if (int64_t(s.tokens.size()) >= ctx) {  // no position left to feed `tok` at
      out->finish = FinishReason::kContextFull;
      break;
    }
    const int32_t pos = int32_t(s.tokens.size());
    // The token's KV goes to the rank whose turn it is, or, when the session
    // fills that rank's whole budget, to the next one in turn with room.
    bool kv_full = true;
    Result<StepOutcome> o = Internal("no decode step ran");
    for (int tries = 0; tries < n && kv_full; ++tries) {
      kv_full = false;
      auto plan = make_step_plan(fb::StepKind::Decode, s.id, {&tok, 1}, pos, CpVariant::kAuto,
                                 decode_owner(s.decode_steps, n), 0, true, opts_.decode_variant);
      o = run_step(s, std::move(plan), &out->stats, &kv_full);
      if (kv_full) ++s.decode_steps;
    }
    if (kv_full) {  // the session fills every rank's whole budget: as a full context
      out->finish = FinishReason::kContextFull;
      break;
    }
    RINGLM_RETURN_IF_ERROR(o.status());
    {
      std::lock_guard<std::mutex> state(s.state_mu);
      s.tokens.push_back(tok);
    }
    ++s.decode_steps;
    RINGLM_RETURN_IF_ERROR(check_logits(o.value().logits));
    logits = std::move(o.value().logits);
  }
  if (out->finish != FinishReason::kStop || !stops.stopped()) emit(stops.finish(detok.flush()), {});
  out->stats.decode_ms = timer.ms();
  if (out->stats.generated_tokens > 0 && out->stats.decode_ms > 0)
    out->stats.decode_tok_s = out->stats.generated_tokens / (out->stats.decode_ms / 1000.0);
  return Status::Ok();
}

}  // namespace ringlm
