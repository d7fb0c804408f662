// `ringlm chat`: a multi-turn conversation, one user turn per stdin line,
// the reply streamed as it is generated, speeds printed after each turn.
#include <cstdio>
#include <iostream>
#include <string>

#include "commands.h"
#include "engine_flags.h"

namespace ringlm::cli {

int run_chat(int argc, char** argv) {
  auto vf = engine_value_flags();
  vf.merge(generate_value_flags());
  vf.insert("system");
  auto args = Args::Parse(argc, argv, 2, vf, {"quiet", "echo"});
  if (!args.ok()) return fail(args.status());
  auto eo = engine_options_with_model(*args);
  if (!eo.ok()) return fail(eo.status());
  auto go = generate_options(*args);
  if (!go.ok()) return fail(go.status());
  auto engine = Engine::Create(eo.value());
  if (!engine.ok()) return fail(engine.status());
  Engine& e = *engine.value();
  SessionOptions so;
  so.system_prompt = args->get("system");
  auto sid = e.open_session(so);
  if (!sid.ok()) return fail(sid.status());
  const bool quiet = args->has("quiet");
  if (!quiet) {
    const EngineInfo& info = e.info();
    std::fprintf(stderr, "ringlm %s: %s on %d CP rank%s (%s), chat template %s\n",
                 info.version.c_str(), info.model.name.c_str(), info.world_size,
                 info.world_size == 1 ? "" : "s", info.backend.c_str(), info.chat_template.c_str());
  }
  TurnEvents ev;
  ev.on_text = [](std::string_view t, std::span<const int32_t>) {
    std::fwrite(t.data(), 1, t.size(), stdout);
    std::fflush(stdout);
  };
  std::string line;
  int failed = 0;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF input
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (args->has("echo")) std::printf("> %s\n", line.c_str());
    std::vector<ChatMessage> msgs{{"user", line}};
    auto r = e.chat(sid.value(), msgs, go.value(), ev);
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
  }
  return failed == 0 ? 0 : 1;  // a turn that failed fails the command
}

}  // namespace ringlm::cli
