// Editing a conversation: rewinding a chat or a raw token history, and
// forking a session with its KV, on one and two ranks; their budgets and
// error paths. RINGLM_TEST_BACKEND=cuda runs them on one GPU (the [budget]
// case assumes f32 pages and stays on the CPU).
#include <catch2/catch.hpp>

#include "runtime/engine.h"
#include "session_engine.h"

using namespace ringlm;
using namespace ringlm::test;

namespace {

// 2 layers * 2 (K,V) * 16 tokens * 2 kv heads * 16 dims * 4 B + positions.
constexpr size_t kPageBytes = 8256;

size_t transcript_size(Engine& e, SessionId s) { return e.session_messages(s).value().size(); }
size_t history_size(Engine& e, SessionId s) { return e.session_tokens(s).value().size(); }

}  // namespace

TEST_CASE("a rewound chat regenerates its reply from the cached prefix", "[session][edit]") {
  const int n = GENERATE(1, 2);
  CAPTURE(n);
  auto e = make_session_engine(n);
  SessionOptions so;
  so.system_prompt = "be brief";
  const SessionId s = e->open_session(so).value();
  chat_turn(*e, s, "hello there");
  const TurnResult second = chat_turn(*e, s, "and what next?");
  const size_t after_second = history_size(*e, s);
  REQUIRE(transcript_size(*e, s) == 5);  // system, user, assistant, user, assistant
  const std::vector<ChatMessage> before = e->session_messages(s).value();

  // Drop the last exchange: the KV keeps the first exchange's tokens only.
  REQUIRE(e->rewind_session(s, 3).ok());
  const std::vector<ChatMessage> kept = e->session_messages(s).value();
  CHECK(kept == std::vector<ChatMessage>(before.begin(), before.begin() + 3));
  CHECK(history_size(*e, s) < after_second - second.tokens.size());
  CHECK(history_size(*e, s) >= size_t(second.stats.cached_tokens));
  const size_t history_size_before_again = history_size(*e, s);

  // Asked again, the same reply, and only the new message is prefilled:
  // the KV kept the first reply's end-of-turn tokens too, which the second
  // turn had prefilled.
  const TurnResult again = chat_turn(*e, s, "and what next?");
  CHECK(again.tokens == second.tokens);
  CHECK(again.text == second.text);
  CHECK(again.stats.cached_tokens + again.stats.new_tokens ==
        second.stats.cached_tokens + second.stats.new_tokens);
  CHECK(again.stats.cached_tokens >= second.stats.cached_tokens);
  CHECK(size_t(again.stats.cached_tokens) == history_size_before_again);
  CHECK(e->session_messages(s).value() == before);

  // An edited message continues from the same prefix.
  REQUIRE(e->rewind_session(s, 3).ok());
  const TurnResult edited = chat_turn(*e, s, "something else");
  CHECK(edited.stats.cached_tokens == again.stats.cached_tokens);

  // Back to nothing: the KV keeps only what a first user turn's prompt
  // starts with (here the turn-opening token: the system prompt went too),
  // and the next turn reuses exactly that.
  REQUIRE(e->rewind_session(s, 0).ok());
  CHECK(transcript_size(*e, s) == 0);
  const size_t kept_tokens = history_size(*e, s);
  CHECK(kept_tokens <= 1);
  const TurnResult fresh = chat_turn(*e, s, "hello there");
  CHECK(fresh.stats.cached_tokens == int64_t(kept_tokens));
}

TEST_CASE("a rewound raw history continues as that history would", "[session][edit]") {
  const int n = GENERATE(1, 2);
  CAPTURE(n);
  auto e = make_session_engine(n);
  auto ref = make_session_engine(1);
  const SessionId s = e->open_session().value();
  raw_turn(*e, s, salted_ids(30, 1), 5);
  std::vector<int32_t> history = e->session_tokens(s).value();
  REQUIRE(history.size() == 35);

  // Within the unfed tail (the reply's last token): nothing to truncate.
  REQUIRE(e->rewind_tokens(s, 34).ok());
  history.resize(34);
  CHECK(e->session_tokens(s).value() == history);
  // Into the KV.
  REQUIRE(e->rewind_tokens(s, 20).ok());
  history.resize(20);
  CHECK(e->session_tokens(s).value() == history);

  const std::vector<int32_t> next = salted_ids(6, 2);
  const TurnResult cont = raw_turn(*e, s, next);
  CHECK(cont.stats.cached_tokens == 20);
  CHECK(cont.stats.new_tokens == 6);
  history.insert(history.end(), next.begin(), next.end());
  const TurnResult whole = raw_turn(*ref, ref->open_session().value(), history);
  CHECK(logits_close(cont.prompt_logits, whole.prompt_logits));
  CHECK(cont.tokens == whole.tokens);
}

TEST_CASE("a fork continues like its source, and apart from it", "[session][edit]") {
  const int n = GENERATE(1, 2);
  CAPTURE(n);
  auto e = make_session_engine(n);
  const SessionId s = e->open_session().value();
  chat_turn(*e, s, "tell me a story");
  const Result<SessionId> forked = e->fork_session(s);
  REQUIRE(forked.ok());
  const SessionId f = forked.value();
  CHECK(f != s);
  CHECK(e->session_messages(f).value() == e->session_messages(s).value());
  CHECK(e->session_tokens(f).value() == e->session_tokens(s).value());

  // Both branches take the same next turn from their KV, without a prefill
  // of the shared part.
  const TurnResult a = chat_turn(*e, s, "go on");
  const TurnResult b = chat_turn(*e, f, "go on");
  CHECK(b.tokens == a.tokens);
  CHECK(b.stats.cached_tokens == a.stats.cached_tokens);
  CHECK(b.stats.cached_tokens > 0);
  CHECK_FALSE(b.stats.rebuilt);

  // The branches part: closing the source leaves the fork whole.
  chat_turn(*e, s, "no, stop");
  const std::vector<ChatMessage> fork_messages = e->session_messages(f).value();
  REQUIRE(e->close_session(s).ok());
  const TurnResult c = chat_turn(*e, f, "and then?");
  CHECK(c.stats.cached_tokens > b.stats.cached_tokens);

  // The same turns on one session of a fresh engine give the same reply.
  auto ref = make_session_engine(1);
  const SessionId r = ref->open_session().value();
  for (const char* m : {"tell me a story", "go on", "and then?"}) {
    const TurnResult t = chat_turn(*ref, r, m);
    if (std::string(m) == "and then?") CHECK(t.tokens == c.tokens);
  }
  CHECK(fork_messages.size() == 4);
}

TEST_CASE("a fork shares its source's KV pages until either writes (copy on write)",
          "[session][edit][budget]") {
  auto e = make_session_engine(1, 8 * kPageBytes);  // 8 pages of 16 tokens
  const SessionId a = e->open_session().value();
  const SessionId b = e->open_session().value();
  raw_turn(*e, b, salted_ids(40, 2), 1);  // 3 pages, idle
  raw_turn(*e, a, salted_ids(40, 1), 1);  // 3 pages

  // The fork takes no page of its own; its turn writes into the third
  // page, which it copies first: 7 pages, and b keeps its KV.
  const SessionId f = e->fork_session(a).value();
  const TurnResult tf = raw_turn(*e, f, salted_ids(3, 3));
  CHECK(tf.stats.cached_tokens == 40);  // the reply's token is prefilled now
  CHECK_FALSE(tf.stats.rebuilt);
  CHECK(tf.stats.evictions == 0);
  REQUIRE(tf.stats.kv_bytes.size() == 1);
  CHECK(tf.stats.kv_bytes[0] == 7 * kPageBytes);
  CHECK_FALSE(raw_turn(*e, b, salted_ids(3, 4)).stats.rebuilt);

  // 80 tokens (5 pages) are held once for both sessions: each continues
  // from them, with what its own prefill would give.
  auto big = make_session_engine(1, 8 * kPageBytes);
  const SessionId c = big->open_session().value();
  raw_turn(*big, c, salted_ids(80, 5), 1);
  const SessionId g = big->fork_session(c).value();
  CHECK(big->session_tokens(g).value() == big->session_tokens(c).value());
  const TurnResult tc = raw_turn(*big, c, salted_ids(3, 6));
  CHECK(tc.stats.cached_tokens == 80);
  const TurnResult tg = raw_turn(*big, g, salted_ids(3, 6));
  CHECK(tg.stats.cached_tokens == 80);
  CHECK_FALSE(tg.stats.rebuilt);
  CHECK(tg.tokens == tc.tokens);
  CHECK(logits_close(tg.prompt_logits, tc.prompt_logits));
  CHECK(tg.stats.kv_bytes[0] == 7 * kPageBytes);  // 5 shared, one new page each

  // Evicting c frees only its own page: g still holds the shared five, and
  // grows into the room that leaves (8 pages for its 87 + 41 tokens).
  const TurnResult tg2 = raw_turn(*big, g, salted_ids(40, 7), 1);
  CHECK(tg2.stats.evictions == 1);
  CHECK(tg2.stats.cached_tokens == 87);
  CHECK(tg2.stats.kv_bytes[0] == 8 * kPageBytes);
  const TurnResult tc2 = raw_turn(*big, c, salted_ids(3, 8));
  CHECK(tc2.stats.rebuilt);
}

TEST_CASE("bad rewinds and forks are refused and change nothing", "[session][edit]") {
  auto e = make_session_engine(1);
  const SessionId s = e->open_session().value();
  chat_turn(*e, s, "hi");
  const std::vector<ChatMessage> messages = e->session_messages(s).value();
  const std::vector<int32_t> tokens = e->session_tokens(s).value();
  CHECK(e->rewind_session(s, 3).code() == StatusCode::kOutOfRange);
  CHECK(e->rewind_session(s, -1).code() == StatusCode::kOutOfRange);
  CHECK(e->rewind_tokens(s, int64_t(tokens.size()) + 1).code() == StatusCode::kOutOfRange);
  CHECK(e->rewind_tokens(s, -5).code() == StatusCode::kOutOfRange);
  CHECK(e->rewind_session(s, 3).message().find("[0, 2]") != std::string::npos);
  CHECK(e->rewind_session(999, 0).code() == StatusCode::kNotFound);
  CHECK(e->rewind_tokens(999, 0).code() == StatusCode::kNotFound);
  CHECK(e->fork_session(999).status().code() == StatusCode::kNotFound);
  CHECK(e->session_messages(s).value() == messages);
  CHECK(e->session_tokens(s).value() == tokens);
  // Keeping everything is no change.
  REQUIRE(e->rewind_session(s, 2).ok());
  REQUIRE(e->rewind_tokens(s, int64_t(tokens.size())).ok());
  CHECK(e->session_tokens(s).value() == tokens);
  CHECK(chat_turn(*e, s, "again").stats.cached_tokens > 0);
}
