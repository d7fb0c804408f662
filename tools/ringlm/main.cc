// ringlm: command-line front end of the engine.
#include <cstdio>
#include <cstring>
#include <string>

#include "commands.h"
#include "engine_flags.h"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: ringlm <command> [flags]\n"
               "  info      [--model F] [--json]                 model metadata\n"
               "  devices   [--json]                             backends, GPUs, NCCL, cuDNN\n"
               "  tokenize  --text T [--model F]                 token ids as JSON\n"
               "  generate  --prompt T | --prompt-file F|- [--max-tokens N] [--temperature X] [--json]\n"
               "            [--logits-out F] [--logprobs N] [--cp N] [--variant auto|pass-kv|pass-q]\n"
               "  chat      [--cp N] [--max-tokens N]            one turn per stdin line\n"
               "            [--system S] [--session F]           F: resumed if it exists, saved each turn\n"
               "            lines /retry and /undo: regenerate the last reply, take it back\n"
               "  worker    --rank R --world N --store DIR|redis://H:P   a CP rank\n"
               "  bench cp  [--tokens 4096,8000] [--ranks 2]      CP scaling and crossover\n"
               "  bench model [--shape llama3-8b] [--backend cuda] prefill MFU, decode speed\n"
               "  bench ring [--tokens 8192] [--ranks 2]          ring attention alone, key-run cutting\n"
               "  bench session [--tokens 8192] [--cp 2]         session save/restore/fork speed\n"
               "common: --model F (default $RINGLM_MODEL or the SmolLM2 cache), --threads N,\n"
               "  --kv-budget-mb M, --kv-type auto|f32|bf16 (KV cache elements; auto: bf16 on\n"
               "  CUDA, f32 on the CPU), --weight-type auto|f32|bf16|q8_0 (weight matrices;\n"
               "  auto: f32 on the CPU, bf16 on CUDA; bf16 halves their memory, q8_0 about\n"
               "  quarters it, CPU only), --store S --rank 0\n"
               "  (leader of a multi-process group),\n"
               "  --timeout-ms MS (each communication step), --leader-timeout-ms MS (workers\n"
               "  leave a leader silent this long; the leader's value holds), --comm\n"
               "  auto|gloo|nccl (auto: shared memory between the ranks of one process),\n"
               "  --share-prefix-min T (a new session copies another's KV of a shared prompt\n"
               "  prefix of at least T tokens instead of prefilling it; default 256, 0: off)\n");
}

int run(int argc, char** argv) {
  const std::string cmd = argv[1];
  for (int i = 2; i < argc; ++i) {  // "ringlm chat --help": the usage, not a flag error
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      usage();
      return 0;
    }
  }
  if (cmd == "info") return ringlm::cli::run_info(argc, argv);
  if (cmd == "devices") return ringlm::cli::run_devices(argc, argv);
  if (cmd == "tokenize") return ringlm::cli::run_tokenize(argc, argv);
  if (cmd == "generate") return ringlm::cli::run_generate(argc, argv);
  if (cmd == "chat") return ringlm::cli::run_chat(argc, argv);
  if (cmd == "worker") return ringlm::cli::run_worker(argc, argv);
  if (cmd == "bench") return ringlm::cli::run_bench(argc, argv);
  std::fprintf(stderr, "ringlm: unknown command '%s'\n", cmd.c_str());
  usage();
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  try {
    return run(argc, argv);
  } catch (...) {  // out of memory on a hostile file, say: a message, not an abort
    return ringlm::cli::fail(ringlm::current_exception_status());
  }
}
