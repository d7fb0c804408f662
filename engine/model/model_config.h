// Hyper-parameters of a Llama-family decoder, read from GGUF metadata.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "rope_params.h"

namespace ringlm {

struct ModelConfig {
  std::string arch;  // "llama", "qwen2", ...
  std::string name;  // general.name
  int n_layers = 0;
  int dim = 0;         // embedding length
  int n_heads = 0;     // H_q
  int n_kv_heads = 0;  // H_kv
  int head_dim = 0;    // d
  int ffn_dim = 0;
  int vocab = 0;
  float rms_eps = 1e-5f;
  int context_length = 0;
  bool tied_embeddings = false;
  bool qkv_bias = false;  // Qwen2
  kernels::RopeConfig rope;
};

class GgufFile;

// Reads and validates the configuration. kUnsupported for an architecture
// other than llama, mistral or qwen2, or an unknown rope scaling;
// kCorruptData for inconsistent hyper-parameters; kNotFound for a missing key.
Result<ModelConfig> model_config_from_gguf(const GgufFile& f);

}  // namespace ringlm
