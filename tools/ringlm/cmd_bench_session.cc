// `ringlm bench session`: how fast a session's KV goes to disk and comes
// back, and how fast a session forks.
// Prefills one raw-mode session of --tokens tokens on the engine's ranks,
// then --reps times: save_session to a file in --dir, decode the file in
// memory (its checksum and lengths: the format's own cost),
// restore_session (read, decode, every rank's shard imported), and
// fork_session (every rank's copy shares its shard's pages, copy on write);
// then the first turn of a second session over the same tokens (prefix
// sharing), with the KV memory both sessions hold together.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "core/timer.h"
#include "engine_flags.h"
#include "runtime/engine.h"
#include "runtime/session_file.h"

namespace ringlm::cli {
namespace {

// One save, in-memory decode and restore of session `sid` through `path`;
// prints its row.
Status one_rep(Engine& engine, SessionId sid, const std::string& path, int64_t rep) {
  Timer save_t;
  RINGLM_RETURN_IF_ERROR(engine.save_session(sid, path));
  const double save_s = save_t.ms() / 1000;
  double gb = 0, decode_s = 0;
  {
    RINGLM_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_whole_file(path, SIZE_MAX));
    gb = bytes.size() / 1e9;
    Timer decode_t;
    RINGLM_RETURN_IF_ERROR(decode_session_file(bytes).status());
    decode_s = decode_t.ms() / 1000;
  }  // the file's bytes are freed before the restore reads them again
  Timer restore_t;
  RINGLM_ASSIGN_OR_RETURN(SessionId restored, engine.restore_session(path));
  const double restore_s = restore_t.ms() / 1000;
  // The restored session holds the same token history as the saved one.
  auto a_tokens = engine.session_tokens(sid);
  auto b_tokens = engine.session_tokens(restored);
  bool same = a_tokens.ok() && b_tokens.ok() && *a_tokens == *b_tokens;
  RINGLM_RETURN_IF_ERROR(engine.close_session(restored));
  Timer fork_t;
  RINGLM_ASSIGN_OR_RETURN(SessionId fork, engine.fork_session(sid));
  const double fork_s = fork_t.ms() / 1000;
  auto f_tokens = engine.session_tokens(fork);
  same = same && f_tokens.ok() && *f_tokens == *a_tokens;
  RINGLM_RETURN_IF_ERROR(engine.close_session(fork));
  std::printf("%4lld %10.1f %8.2f %9.2f %11.2f %10.2f %11.2f %8.3f %10s\n", (long long)rep,
              gb * 1e3, save_s, gb / save_s, gb / decode_s, restore_s, gb / restore_s, fork_s,
              same ? "same" : "DIFFERENT");
  std::fflush(stdout);
  if (!same)
    return Internal("a restored or forked session's token history differs from the original");
  return Status::Ok();
}

Status bench(const Args& a) {
  RINGLM_ASSIGN_OR_RETURN(EngineOptions eo, engine_options_with_model(a));
  RINGLM_ASSIGN_OR_RETURN(int64_t tokens, a.get_int("tokens", 8192));
  RINGLM_ASSIGN_OR_RETURN(int64_t reps, a.get_int("reps", 3));
  if (tokens < 1 || tokens > (int64_t(1) << 30))
    return InvalidArgument("--tokens: a length in [1, 2^30]");
  if (reps < 1) return InvalidArgument("--reps: at least 1");
  std::error_code ec;
  const std::filesystem::path tmp = std::filesystem::temp_directory_path(ec);
  const std::filesystem::path dir = a.get("dir", ec ? std::string("/tmp") : tmp.string());
  const std::string path = (dir / ("ringlm-bench-session-" + std::to_string(::getpid()))).string();

  RINGLM_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(eo));
  RINGLM_ASSIGN_OR_RETURN(SessionId sid, engine->open_session());
  std::vector<int32_t> ids(static_cast<size_t>(tokens));
  const int32_t vocab = int32_t(engine->tokenizer().vocab_size());
  for (int64_t i = 0; i < tokens; ++i) ids[size_t(i)] = int32_t((i * 7919 + 13) % vocab);
  GenerateOptions go;
  go.max_tokens = 1;
  const auto kv_mb = [](const TurnStats& st) {
    uint64_t b = 0;
    for (uint64_t x : st.kv_bytes) b += x;
    return b / 1e6;
  };
  Timer pt;
  RINGLM_ASSIGN_OR_RETURN(TurnResult prefill, engine->generate(sid, ids, go));
  std::printf(
      "ringlm bench session: %lld tokens on %d rank(s), %s KV; prefill %.1f s (%.0f tok/s); "
      "file in %s\n",
      (long long)tokens, engine->info().world_size, kernels::kv_type_name(engine->info().kv_type),
      pt.ms() / 1000, prefill.stats.prefill_tok_s, dir.c_str());
  std::printf("%4s %10s %8s %9s %11s %10s %11s %8s %10s\n", "rep", "file_MB", "save_s",
              "save_GB/s", "decode_GB/s", "restore_s", "restore_GB/s", "fork_s", "check");
  Status st = Status::Ok();
  for (int64_t r = 0; r < reps && st.ok(); ++r) st = one_rep(*engine, sid, path, r);
  std::filesystem::remove(path, ec);
  RINGLM_RETURN_IF_ERROR(st);
  // Prefix sharing: a second session over the same tokens (as many as leave
  // room in the context) and 16 of its own.
  constexpr int64_t kOwn = 16;
  const int64_t same = std::min(tokens, engine->info().model.context_length - kOwn);
  if (same < 1) return Status::Ok();
  ids.resize(size_t(same));
  for (int64_t i = 0; i < kOwn; ++i) ids.push_back(int32_t((i * 31 + 7) % vocab));
  RINGLM_ASSIGN_OR_RETURN(SessionId other, engine->open_session());
  Timer st_t;
  RINGLM_ASSIGN_OR_RETURN(TurnResult shared, engine->generate(other, ids, go));
  std::printf(
      "a second session over the first %lld of those tokens and %lld of its own: %.3f s for its "
      "first token (%lld tokens copied from the first session's KV, %lld prefilled); KV held by "
      "both sessions %.1f MB, by the first alone %.1f MB\n",
      (long long)same, (long long)kOwn, st_t.ms() / 1000, (long long)shared.stats.shared_tokens,
      (long long)shared.stats.new_tokens, kv_mb(shared.stats), kv_mb(prefill.stats));
  return engine->close_session(other);
}

}  // namespace

int run_bench_session(int argc, char** argv) {
  auto vf = engine_value_flags();
  vf.insert({"tokens", "reps", "dir"});
  auto args = Args::Parse(argc, argv, 3, vf, {});
  if (!args.ok()) return fail(args.status());
  Status st = bench(args.value());
  return st.ok() ? 0 : fail(st);
}

}  // namespace ringlm::cli
