// `ringlm chat`: a multi-turn conversation, one user turn per stdin line,
// the reply streamed as it is generated, speeds printed after each turn.
// With --session F the conversation lives in the session file F: resumed
// from it when it exists (its KV restored, so the next turn prefills only
// its own tokens) and saved to it after every turn.
//
// Two lines are commands, not messages: /undo drops the last exchange (the
// last user message and everything after it), and /retry asks the last user
// message again, regenerating its reply (the same one when greedy). Both
// rewind the session, so the KV before that message is reused (/retry on a
// fork, which replaces the session once its turn succeeds).
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "commands.h"
#include "engine_flags.h"

namespace ringlm::cli {
namespace {

// Takes the last exchange back: rewinds `sid`, or with `on_fork` a fork of
// it, to just before its last user message, and returns the rewound session
// (*text: that message). kFailedPrecondition when there is no user message;
// on failure nothing changed (a fork made is closed again).
Result<SessionId> take_back(Engine& e, SessionId sid, bool on_fork, std::string* text) {
  RINGLM_ASSIGN_OR_RETURN(std::vector<ChatMessage> msgs, e.session_messages(sid));
  size_t i = msgs.size();
  while (i > 0 && msgs[i - 1].role != "user") --i;
  if (i == 0) return FailedPrecondition("no user message to take back yet");
  SessionId target = sid;
  if (on_fork) {
    RINGLM_ASSIGN_OR_RETURN(target, e.fork_session(sid));
  }
  if (Status st = e.rewind_session(target, int64_t(i - 1)); !st.ok()) {
    if (target != sid) (void)e.close_session(target);
    return st;
  }
  *text = msgs[i - 1].content;
  return target;
}

}  // namespace

int run_chat(int argc, char** argv) {
  auto vf = engine_value_flags();
  vf.merge(generate_value_flags());
  vf.insert({"system", "session"});
  auto args = Args::Parse(argc, argv, 2, vf, {"quiet", "echo"});
  if (!args.ok()) return fail(args.status());
  auto eo = engine_options_with_model(*args);
  if (!eo.ok()) return fail(eo.status());
  auto go = generate_options(*args);
  if (!go.ok()) return fail(go.status());
  const bool quiet = args->has("quiet");
  // Looked up before the model loads, so a bad path fails at once.
  const std::string session_file = args->get("session");
  std::error_code ec;
  const bool resume = !session_file.empty() && std::filesystem::exists(session_file, ec);
  if (ec)
    return fail(IoError("cannot look up the session file " + session_file + ": " + ec.message()));
  auto engine = Engine::Create(eo.value());
  if (!engine.ok()) return fail(engine.status());
  Engine& e = *engine.value();
  Result<SessionId> sid = Status::Ok();
  if (resume) {
    sid = e.restore_session(session_file);
    if (!sid.ok()) return fail(sid.status().WithContext("resuming " + session_file));
    if (args->has("system"))
      std::fprintf(stderr, "note: --system is ignored; %s holds its own system prompt\n",
                   session_file.c_str());
  } else {
    SessionOptions so;
    so.system_prompt = args->get("system");
    sid = e.open_session(so);
    if (!sid.ok()) return fail(sid.status());
  }
  if (!quiet) {
    const EngineInfo& info = e.info();
    std::fprintf(stderr, "ringlm %s: %s on %d CP rank%s (%s), chat template %s\n",
                 info.version.c_str(), info.model.name.c_str(), info.world_size,
                 info.world_size == 1 ? "" : "s", info.backend.c_str(), info.chat_template.c_str());
    if (resume) {
      auto msgs = e.session_messages(sid.value());
      auto toks = e.session_tokens(sid.value());
      std::fprintf(stderr, "resumed %s: %zu messages, %zu tokens\n", session_file.c_str(),
                   msgs.ok() ? msgs->size() : 0, toks.ok() ? toks->size() : 0);
    }
  }
  TurnEvents ev;
  ev.on_text = [](std::string_view t, std::span<const int32_t>) {
    std::fwrite(t.data(), 1, t.size(), stdout);
    std::fflush(stdout);
  };
  std::string line;
  int failed = 0;
  const auto save = [&] {
    if (session_file.empty()) return;
    Status st = e.save_session(sid.value(), session_file);
    if (!st.ok()) {
      fail(st.WithContext("saving " + session_file));
      ++failed;
    }
  };
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF input
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (args->has("echo")) {
      std::printf("> %s\n", line.c_str());
      std::fflush(stdout);  // before any note on stderr about the line
    }
    std::string text = line;
    // /retry runs on a fork, which replaces the session once its turn
    // succeeds: a failed retry keeps the exchange it meant to replace.
    SessionId turn_sid = sid.value();
    if (line == "/undo" || line == "/retry") {
      Result<SessionId> target = take_back(e, sid.value(), line == "/retry", &text);
      if (!target.ok()) {
        fail(target.status().WithContext(line));
        ++failed;
        continue;  // nothing changed
      }
      if (!quiet) std::fprintf(stderr, "(took back: %s)\n", text.c_str());
      if (line == "/undo") {
        save();
        continue;
      }
      turn_sid = *target;
    }
    std::vector<ChatMessage> msgs{{"user", text}};
    auto r = e.chat(turn_sid, msgs, go.value(), ev);
    if (turn_sid != sid.value()) {  // the fork of a /retry
      (void)e.close_session(r.ok() ? sid.value() : turn_sid);
      if (r.ok()) sid = turn_sid;
    }
    if (!r.ok()) {
      std::fflush(stdout);
      fail(r.status());
      ++failed;
      // A lost rank group fails every later turn too: stop here.
      if (r.status().code() == StatusCode::kUnavailable) break;
      continue;  // the session is unchanged; the next line is a fresh turn
    }
    std::printf("\n");
    if (!quiet) std::printf("%s\n", stats_line(r->stats).c_str());
    std::fflush(stdout);
    save();
  }
  return failed == 0 ? 0 : 1;  // a turn that failed fails the command
}

}  // namespace ringlm::cli
