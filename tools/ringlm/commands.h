// The ringlm tool's subcommands; each takes argv after the subcommand name.
#pragma once

namespace ringlm::cli {

int run_info(int argc, char** argv);
int run_devices(int argc, char** argv);
int run_tokenize(int argc, char** argv);
int run_generate(int argc, char** argv);
int run_chat(int argc, char** argv);
int run_worker(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_bench_model(int argc, char** argv);
int run_bench_ring(int argc, char** argv);
int run_bench_session(int argc, char** argv);

}  // namespace ringlm::cli
