// Log-probabilities of generated tokens under the model's own distribution.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"

namespace ringlm {

// The most alternatives a request may ask for per token.
inline constexpr int kMaxTopLogprobs = 20;

struct TokenLogprob {
  int32_t token = 0;
  // Natural log of the token's probability under softmax(logits): the
  // model's distribution, before temperature, penalties or truncation.
  float logprob = 0;
  // The `top` most likely tokens, most likely first (ties: the lower id
  // first); tokens of probability zero are left out.
  std::vector<int32_t> top_tokens;
  std::vector<float> top_logprobs;
};

// kInvalidArgument unless 0 <= top <= kMaxTopLogprobs.
Status check_top_logprobs(int top);

// `token`'s log-probability and the `top` (0..kMaxTopLogprobs) most likely
// tokens' under softmax(logits). The logits are finite or -inf (the engine
// fails a request whose logits are NaN or +inf before sampling).
TokenLogprob token_logprob(std::span<const float> logits, int32_t token, int top);

}  // namespace ringlm
