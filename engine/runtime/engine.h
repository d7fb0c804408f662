// Engine: a model, its tokenizer and chat template, the CP rank group, and
// the sessions. The C ABI and the command-line tool drive ringlm through it.
//
// A session is one conversation: its transcript, and the token history whose
// KV stays cached on the ranks (sharded) across turns, so turn k prefills only
// its new tokens. When the KV budget is full, the least recently used idle
// session's KV is evicted; it keeps its transcript and is rebuilt by prefill
// on its next turn.
//
// Threads: every method may be called from any thread. Requests execute one
// at a time (the ring is shared); a session serves one request at a time
// (another concurrent request on it gets kFailedPrecondition); cancel() may be
// called from any thread while a request runs. An event callback runs on its
// request's thread, which holds the ring: there, close_session, chat,
// generate, save_session and restore_session of the same engine return
// kFailedPrecondition (they would wait for the ring the callback holds).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/llama_model.h"
#include "runtime/engine_options.h"
#include "runtime/logprobs.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace ringlm {

class RankGroup;
using SessionId = uint64_t;

// Streaming callbacks, called on the requesting thread.
struct TurnEvents {
  // A piece of generated text (complete UTF-8) and the tokens it came from.
  std::function<void(std::string_view text, std::span<const int32_t> tokens)> on_text;
  // Prefill progress: tokens done out of total, after every prefill step.
  std::function<void(int64_t done, int64_t total)> on_progress;
};

struct TurnResult {
  std::string text;
  std::vector<int32_t> tokens;
  FinishReason finish = FinishReason::kStop;
  TurnStats stats;
  std::vector<float> prompt_logits;  // [vocab] when GenerateOptions::want_prompt_logits
  // One per generated token (tokens[i]) when GenerateOptions::logprobs.
  std::vector<TokenLogprob> logprobs;
};

struct EngineInfo {
  std::string version;
  ModelConfig model;
  int world_size = 1;
  std::string backend;
  kernels::KvType kv_type = kernels::KvType::kF32;  // the KV cache's elements, for the whole group
  WeightType weight_type = WeightType::kF32;  // every rank's weight matrices (resolved)
  CpCalibration calibration;
  uint64_t model_fingerprint = 0;
  std::string chat_template;
};

class Engine {
 public:
  // Loads the model and starts the rank group (in-process threads, or this
  // process's rank of a multi-process group when opts.store is set; the
  // leader must be rank 0). kNotFound / kCorruptData / kUnsupported for the
  // model file, kInvalidArgument for bad options, comm errors for the group.
  static Result<std::unique_ptr<Engine>> Create(const EngineOptions& opts);
  ~Engine();

  const EngineInfo& info() const { return info_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const ChatTemplate& chat_template() const { return *template_; }

  Result<SessionId> open_session(const SessionOptions& opts = {});
  // Frees the session's KV on every rank. kNotFound for an unknown session,
  // kFailedPrecondition while a request runs on it.
  Status close_session(SessionId id);

  // Appends `new_messages` to the transcript, prefills what the KV lacks and
  // generates the assistant's reply (appended to the transcript). On error
  // the transcript is as before the call and the KV holds no more of it than
  // before.
  Result<TurnResult> chat(SessionId id, std::span<const ChatMessage> new_messages,
                          const GenerateOptions& opts, const TurnEvents& events = {});
  // Raw mode: appends token ids to the session's token history and
  // generates; the history then ends with the reply's tokens (all of them,
  // also when cancelled). On error the history is as before the call and the
  // KV holds no more of it than before.
  Result<TurnResult> generate(SessionId id, std::span<const int32_t> new_tokens,
                              const GenerateOptions& opts, const TurnEvents& events = {});
  // Stops the session's running request at the next prefill step or token
  // (finish reason kCancelled); the session stays usable. kNotFound for an
  // unknown session; Ok when nothing runs.
  Status cancel(SessionId id);

  // Writes the session (transcript, token history, and the KV shards of
  // every rank) to `path` (atomically: a temporary file renamed). kNotFound,
  // kFailedPrecondition while a request runs on it, kIoError.
  Status save_session(SessionId id, const std::string& path);
  // Restores a saved session as a new session. On the same world size every
  // rank gets its KV shard back; on another, the KV is rebuilt by prefill.
  // kNotFound (no file), kCorruptData (damaged file), kUnsupported (another
  // format version), kInvalidArgument (saved with another model).
  Result<SessionId> restore_session(const std::string& path);

  // Rewinds the conversation to the first `keep_messages` messages of its
  // transcript (session_messages(): the system prompt counts as one): the
  // later messages go, and the KV is cut at once to the tokens that the
  // prompt of the kept messages followed by a user message starts with.
  // The next turn then prefills only what follows the kept messages (edit
  // or regenerate a reply). kOutOfRange unless
  // 0 <= keep_messages <= the transcript's size; kNotFound;
  // kFailedPrecondition while a request runs on it; comm errors (the
  // session as before, or its KV dropped and rebuilt by the next turn).
  Status rewind_session(SessionId id, int64_t keep_messages);
  // Raw mode: keeps the first `keep_tokens` tokens of the token history
  // (session_tokens()); the transcript is not changed. Errors as above.
  Status rewind_tokens(SessionId id, int64_t keep_tokens);
  // Opens a new session that is a copy of `id`: the transcript, the token
  // history and, on every rank, its KV shard (so both continue from there
  // without a prefill; later turns of either leave the other as it is). The
  // KV copy shares the source's pages until either writes into one
  // (copy-on-write): a fork takes no KV memory of its own at first.
  // kNotFound; kFailedPrecondition while a request runs on `id`; comm errors.
  Result<SessionId> fork_session(SessionId id);
  // The session's token history: the tokens whose KV the ranks hold, then
  // any the next request prefills first (raw mode: the reply's last token).
  // Both: kNotFound, kFailedPrecondition while a request runs on it.
  Result<std::vector<int32_t>> session_tokens(SessionId id) const;
  Result<std::vector<ChatMessage>> session_messages(SessionId id) const;

  struct Session;  // defined in runtime/session.h (engine internals)

 private:
  Engine() = default;
  Result<std::shared_ptr<Session>> find(SessionId id) const;
  // A session and its `busy` lock (released first, while the session is
  // surely alive).
  struct LeasedSession {
    std::shared_ptr<Session> session;
    std::unique_lock<std::mutex> busy;
  };
  // find() and a try-lock of the session's `busy` in one step under
  // sessions_mu_, so that close_session cannot slip in between: a session
  // leased is one not closed. FailedPrecondition when busy.
  Result<LeasedSession> lease(SessionId id) const;
  // kFailedPrecondition on a thread that runs a turn of this engine (an event
  // callback calling back in), where `what` would wait for the ring forever.
  Status check_not_in_turn(const char* what) const;
  // The chat template's prompt for `messages`, tokenized (a BOS added unless
  // the template wrote it).
  Result<std::vector<int32_t>> chat_prompt(const std::vector<ChatMessage>& messages,
                                           bool add_generation_prompt) const;
  // The token history cut to its first `keep` tokens (no effect on a shorter
  // one): the ranks' KV truncated, or dropped if that fails (the next turn
  // rebuilds it). Comm errors only when the KV could not be dropped either.
  // The caller holds the session's `busy` and run_mu_.
  Status cut_history(Session& s, size_t keep);
  // Prefix sharing (EngineOptions::share_prefix_min_tokens): when `s` holds
  // no KV, copies on every rank the KV of the longest prefix of `prompt`
  // (short of its last token) that another resident session holds, if long
  // enough (the copy shares that session's KV pages, copy-on-write).
  // Returns the tokens `s` now holds (0: nothing shared). The caller holds
  // run_mu_.
  Result<int64_t> share_prefix(Session& s, std::span<const int32_t> prompt);
  Result<TurnResult> run_turn(Session& s, std::vector<int32_t> prompt, const GenerateOptions& opts,
                              const TurnEvents& events);
  Status prefill(Session& s, std::span<const int32_t> prompt, const GenerateOptions& opts,
                 const TurnEvents& events, TurnResult* out);
  Status decode(Session& s, const GenerateOptions& opts, const TurnEvents& events, TurnResult* out);
  // Executes a step, evicting idle sessions while the KV budget is short.
  // A step that would take the session's KV beyond some rank's whole
  // budget fails at once (no eviction helps), setting *kv_full if given.
  Result<struct StepOutcome> run_step(Session& s, std::vector<uint8_t> plan, TurnStats* stats,
                                      bool* kv_full = nullptr);
  Status evict_one(const Session& keep);
  // ResourceExhausted when a session's KV of `tokens` tokens would exceed
  // every rank's budget together (no eviction could make room).
  Status check_kv_fits(int64_t tokens) const;
  Status drop_kv(Session& s);
  // After a failed turn: the KV and the token history back to their first
  // `keep` tokens (those the turn started from), as cut_history does.
  void roll_back_kv(Session& s, size_t keep);

  EngineOptions opts_;
  EngineInfo info_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ChatTemplate> template_;
  std::unique_ptr<LlamaModel> model_;
  std::unique_ptr<RankGroup> group_;

  mutable std::mutex sessions_mu_;  // guards sessions_ and next_id_
  std::map<SessionId, std::shared_ptr<Session>> sessions_;
  SessionId next_id_ = 1;
  std::mutex run_mu_;   // one step at a time on the ring; guards every Session's KV fields
  uint64_t clock_ = 0;  // LRU clock, guarded by run_mu_
};

}  // namespace ringlm
