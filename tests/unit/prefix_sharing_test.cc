// Prefix sharing: a session without KV whose prompt starts with tokens
// another session's KV holds copies that KV instead of prefilling it, on one
// and two ranks; the result is what its own prefill gives; the threshold,
// the option's off switch, the prefix held once (pages shared, copy on
// write), and the source left as it was. RINGLM_TEST_BACKEND=cuda runs them on one GPU (the
// [budget] case assumes f32 pages and stays on the CPU).
#include <catch2/catch.hpp>
#include <stdexcept>

#include "runtime/engine.h"
#include "session_engine.h"

using namespace ringlm;
using namespace ringlm::test;

namespace {

constexpr int64_t kMin = 16;  // the tests' sharing threshold

std::unique_ptr<Engine> sharing_engine(int n, int64_t min_tokens = kMin,
                                       size_t budget = size_t(1) << 30) {
  return make_session_engine(n, budget, 1, KvCacheType::kAuto, kKvPieceBytes, min_tokens);
}

// `shared` tokens of one document, then `tail` tokens of a question.
std::vector<int32_t> document_then(int shared, int tail, int salt) {
  std::vector<int32_t> v = salted_ids(shared, 7);
  const std::vector<int32_t> q = salted_ids(tail, salt);
  v.insert(v.end(), q.begin(), q.end());
  return v;
}

}  // namespace

TEST_CASE("a new session copies the KV of a prefix another session holds", "[prefix]") {
  const int n = GENERATE(1, 2);
  CAPTURE(n);
  auto e = sharing_engine(n);
  auto ref = sharing_engine(1, 0);
  const SessionId a = e->open_session().value();
  const TurnResult ta = raw_turn(*e, a, document_then(50, 5, 1));
  CHECK(ta.stats.shared_tokens == 0);

  const SessionId b = e->open_session().value();
  const std::vector<int32_t> prompt = document_then(50, 8, 2);
  const TurnResult tb = raw_turn(*e, b, prompt);
  CHECK(tb.stats.shared_tokens == 50);
  CHECK(tb.stats.cached_tokens == 50);
  CHECK(tb.stats.new_tokens == 8);
  // What b's own prefill gives.
  const TurnResult want = raw_turn(*ref, ref->open_session().value(), prompt);
  CHECK(logits_close(tb.prompt_logits, want.prompt_logits));
  CHECK(tb.tokens == want.tokens);

  // The source is as it was: its next turn reuses all of its own KV.
  const TurnResult ta2 = raw_turn(*e, a, salted_ids(3, 3));
  CHECK(ta2.stats.cached_tokens == 55 + 3);  // its prompt and reply but the unfed last token
  CHECK(ta2.stats.shared_tokens == 0);
  // The copy is b's own: closing a leaves b whole.
  REQUIRE(e->close_session(a).ok());
  const TurnResult tb2 = raw_turn(*e, b, salted_ids(2, 4));
  CHECK(tb2.stats.cached_tokens == int64_t(prompt.size()) + 3);
}

TEST_CASE("prefix sharing: the threshold, the off switch, chat sessions", "[prefix]") {
  // Below the threshold nothing is copied.
  auto e = sharing_engine(1, 40);
  raw_turn(*e, e->open_session().value(), document_then(30, 5, 1));
  const TurnResult small = raw_turn(*e, e->open_session().value(), document_then(30, 5, 2));
  CHECK(small.stats.shared_tokens == 0);
  CHECK(small.stats.cached_tokens == 0);
  // Off.
  auto off = sharing_engine(1, 0);
  raw_turn(*off, off->open_session().value(), document_then(50, 5, 1));
  CHECK(raw_turn(*off, off->open_session().value(), document_then(50, 5, 2)).stats.shared_tokens ==
        0);
  // Two chat sessions with one long system prompt: the second's first turn
  // copies the first's KV of it.
  auto c = sharing_engine(2);
  SessionOptions so;
  so.system_prompt = "You answer questions about the following long document. " +
                     std::string(200, 'x');
  const SessionId s1 = c->open_session(so).value(), s2 = c->open_session(so).value();
  const TurnResult t1 = chat_turn(*c, s1, "first question");
  const TurnResult t2 = chat_turn(*c, s2, "second question");
  CHECK(t1.stats.shared_tokens == 0);
  CHECK(t2.stats.shared_tokens >= kMin);
  CHECK(t2.stats.new_tokens < t1.stats.new_tokens);
}

TEST_CASE("a shared prefix is held once: the copy takes no memory until written",
          "[prefix][budget]") {
  // 2 layers * 2 (K,V) * 16 tokens * 2 kv heads * 16 dims * 4 B + positions.
  constexpr size_t kPage = 8256;
  auto e = sharing_engine(1, kMin, 6 * kPage);  // 96 tokens
  auto ref = sharing_engine(1, 0);
  const SessionId a = e->open_session().value();
  raw_turn(*e, a, document_then(60, 4, 1), 1);  // 64 tokens: 4 pages
  // b shares a's 60 tokens: its own pages are the copy of the fourth page,
  // which its question's tokens go into, and a fifth (69 tokens with its
  // reply). Both fit beside a's four pages, where a copy of its own would
  // not have: nothing is evicted.
  const std::vector<int32_t> prompt = document_then(60, 6, 2);
  const TurnResult tb = raw_turn(*e, e->open_session().value(), prompt);
  CHECK(tb.stats.shared_tokens == 60);
  CHECK(tb.stats.evictions == 0);
  REQUIRE(tb.stats.kv_bytes.size() == 1);
  CHECK(tb.stats.kv_bytes[0] == 6 * kPage);
  const TurnResult want = raw_turn(*ref, ref->open_session().value(), prompt);
  CHECK(tb.tokens == want.tokens);
  CHECK(logits_close(tb.prompt_logits, want.prompt_logits));
  // a is as it was: its next turn reuses its whole KV (and evicts b, the
  // only idle session, for its fifth page).
  const TurnResult ta = raw_turn(*e, a, salted_ids(1, 3));
  CHECK(ta.stats.cached_tokens == 64);
  CHECK(ta.stats.evictions == 1);
}

TEST_CASE("a failed turn that copied a prefix leaves no KV behind", "[prefix]") {
  const int n = GENERATE(1, 2);
  CAPTURE(n);
  auto e = sharing_engine(n);
  auto ref = sharing_engine(1, 0);
  const SessionId a = e->open_session().value();
  raw_turn(*e, a, document_then(50, 5, 1));
  const SessionId b = e->open_session().value();
  const std::vector<int32_t> prompt = document_then(50, 8, 2);
  GenerateOptions g;
  g.max_tokens = 4;
  TurnEvents throwing;
  throwing.on_text = [](std::string_view, std::span<const int32_t>) {
    throw std::runtime_error("the host's callback failed");
  };
  CHECK_FALSE(e->generate(b, prompt, g, throwing).ok());
  CHECK(e->session_tokens(b).value().empty());  // the history as before
  // The next turn starts clean (with nothing to share now: it prefills the
  // whole prompt onto no leftover KV) and gives its own prefill's result.
  REQUIRE(e->close_session(a).ok());
  const TurnResult again = raw_turn(*e, b, prompt);
  CHECK(again.stats.shared_tokens == 0);
  int64_t held = 0;
  for (int64_t t : again.stats.kv_tokens) held += t;
  CHECK(held == int64_t(prompt.size()) + 3);  // the prompt and all but the last reply token
  const TurnResult want = raw_turn(*ref, ref->open_session().value(), prompt);
  CHECK(again.tokens == want.tokens);
  CHECK(logits_close(again.prompt_logits, want.prompt_logits));
}
