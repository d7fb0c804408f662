// Creating a rank's Backend from the engine options.
#pragma once

#include <memory>

#include "backend/backend.h"
#include "runtime/engine_options.h"

namespace ringlm {

// The device a CUDA rank uses: (opts.device + local_index) % device count;
// -1 for the CPU backend.
int rank_device(const EngineOptions& opts, int local_index);

// kInvalidArgument for an unknown backend name; kUnsupported for "cuda" in a
// build without CUDA; kUnavailable when no GPU is present.
Result<std::unique_ptr<Backend>> make_backend(const EngineOptions& opts, int local_index,
                                              int threads);

}  // namespace ringlm
