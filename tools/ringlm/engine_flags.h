// Flags shared by the commands that start an engine, and their conversion
// into EngineOptions / GenerateOptions.
#pragma once

#include <set>
#include <string>

#include "args.h"
#include "runtime/engine.h"

namespace ringlm::cli {

// --model --cp --world --rank --store --hostname --variant --decode-variant
// --threads --kv-budget-mb --prefill-chunk --timeout-ms --template
// --attn-flops --link-bw --backend cpu|cuda --device D --comm auto|gloo|nccl
// --kv-type auto|f32|bf16 --weight-type auto|f32|bf16|q8_0 --leader-timeout-ms
std::set<std::string> engine_value_flags();
// --max-tokens --temperature --top-k --top-p --min-p --repeat-penalty --seed --stop
std::set<std::string> generate_value_flags();

// Default model: $RINGLM_MODEL, else ~/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf.
std::string default_model_path();

Result<EngineOptions> engine_options(const Args& a);
// engine_options, and the default model (no --model, no $RINGLM_MODEL) must
// be there: NOT_FOUND says how to fetch it. For commands that load a model.
Result<EngineOptions> engine_options_with_model(const Args& a);
Result<GenerateOptions> generate_options(const Args& a);

std::string stats_json(const TurnStats& s);
std::string stats_line(const TurnStats& s);

// Prints "error: CODE: message" to stderr and returns the process exit code.
int fail(const Status& st);

}  // namespace ringlm::cli
