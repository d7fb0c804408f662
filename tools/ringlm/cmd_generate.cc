#include <cstdio>
#include <string>

#include "commands.h"
#include "engine_flags.h"
#include "json_writer.h"
#include "runtime/rank_group.h"
#include "runtime/session_file.h"

namespace ringlm::cli {
namespace {

// A command line holds about 128 KiB; a long-context prompt (a million
// tokens is 4-5 MB of text) comes from a file, or from stdin with "-". The
// cap is the C API's message cap.
constexpr size_t kMaxPromptFileBytes = size_t(64) << 20;

Result<std::string> read_prompt_file(const std::string& path) {
  auto bytes = read_whole_file(path == "-" ? "/dev/stdin" : path, kMaxPromptFileBytes);
  if (bytes.status().code() == StatusCode::kResourceExhausted)
    return InvalidArgument("the prompt file " + path + " holds more than " +
                           std::to_string(kMaxPromptFileBytes >> 20) + " MiB");
  if (!bytes.ok())
    return IoError("cannot read the prompt file " + path + " (" + bytes.status().message() + ")");
  return std::string(bytes->begin(), bytes->end());
}

// [{"token": t, "logprob": x, "top": [[t, x], ...]}, ...]
std::string logprobs_json(const std::vector<TokenLogprob>& lps) {
  std::string o = "[";
  for (size_t i = 0; i < lps.size(); ++i) {
    std::string top = "[";
    for (size_t k = 0; k < lps[i].top_tokens.size(); ++k) {
      if (k) top += ',';
      top += '[';
      top += std::to_string(lps[i].top_tokens[k]);
      top += ',';
      top += json_number(lps[i].top_logprobs[k]);
      top += ']';
    }
    top += ']';
    JsonObject t;
    t.integer("token", lps[i].token).num("logprob", lps[i].logprob).raw("top", top);
    if (i) o += ",";
    o += t.str();
  }
  return o + "]";
}

}  // namespace

int run_generate(int argc, char** argv) {
  auto vf = engine_value_flags();
  vf.merge(generate_value_flags());
  vf.insert({"prompt", "prompt-file", "logits-out", "logprobs"});
  auto args = Args::Parse(argc, argv, 2, vf, {"json", "chat", "no-stream"});
  if (!args.ok()) return fail(args.status());
  if (args->has("prompt") == args->has("prompt-file"))
    return fail(InvalidArgument("generate needs --prompt or --prompt-file (one of them)"));
  std::string prompt;
  if (args->has("prompt")) {
    prompt = args->get("prompt");
  } else {
    auto text = read_prompt_file(args->get("prompt-file"));
    if (!text.ok()) return fail(text.status());
    prompt = std::move(text).value();
  }
  auto eo = engine_options_with_model(*args);
  if (!eo.ok()) return fail(eo.status());
  auto go = generate_options(*args);
  if (!go.ok()) return fail(go.status());
  go->want_prompt_logits = args->has("logits-out");
  if (args->has("logprobs")) {
    if (!args->has("json")) return fail(InvalidArgument("--logprobs goes with --json"));
    auto top = args->get_int("logprobs", 0, 0, kMaxTopLogprobs);
    if (!top.ok()) return fail(top.status());
    go->logprobs = true;
    go->top_logprobs = int(top.value());
  }
  auto engine = Engine::Create(eo.value());
  if (!engine.ok()) return fail(engine.status());
  Engine& e = *engine.value();
  auto sid = e.open_session();
  if (!sid.ok()) return fail(sid.status());

  const bool json = args->has("json");
  const bool stream = !json && !args->has("no-stream");
  TurnEvents ev;
  if (stream) {
    ev.on_text = [](std::string_view t, std::span<const int32_t>) {
      std::fwrite(t.data(), 1, t.size(), stdout);
      std::fflush(stdout);
    };
  }
  Result<TurnResult> r = Status::Ok();
  if (args->has("chat")) {
    std::vector<ChatMessage> msgs{{"user", prompt}};
    r = e.chat(sid.value(), msgs, go.value(), ev);
  } else {
    auto ids = e.tokenizer().encode(prompt, /*add_special=*/true, /*parse_special=*/true);
    if (!ids.ok()) return fail(ids.status());
    r = e.generate(sid.value(), ids.value(), go.value(), ev);
  }
  if (!r.ok()) return fail(r.status());
  if (args->has("logits-out")) {
    FILE* f = std::fopen(args->get("logits-out").c_str(), "wb");
    if (!f) return fail(IoError("cannot write " + args->get("logits-out")));
    const auto& l = r->prompt_logits;
    const bool ok = std::fwrite(l.data(), sizeof(float), l.size(), f) == l.size();
    if (std::fclose(f) != 0 || !ok)
      return fail(IoError("short write to " + args->get("logits-out")));
  }
  if (json) {
    JsonObject o;
    o.str("text", r->text)
        .raw("tokens", json_array(r->tokens))
        .str("finish_reason", finish_reason_name(r->finish))
        .raw("stats", stats_json(r->stats));
    if (go->logprobs) o.raw("logprobs", logprobs_json(r->logprobs));
    std::printf("%s\n", o.str().c_str());
  } else {
    std::printf("\n%s\n", stream ? stats_line(r->stats).c_str() : r->text.c_str());
  }
  return 0;
}

int run_worker(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, 2, engine_value_flags(), {});
  if (!args.ok()) return fail(args.status());
  auto eo = engine_options_with_model(*args);
  if (!eo.ok()) return fail(eo.status());
  Status st = serve_worker(eo.value());
  if (!st.ok()) return fail(st);
  return 0;
}

}  // namespace ringlm::cli
