// Token sampling from logits, and stop-string detection over streamed text.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ringlm {

struct SamplingParams {
  float temperature = 0.f;         // 0: greedy (argmax, ties to the lowest id); else > 0
  int top_k = 0;                   // keep the k most likely tokens; 0: off
  float top_p = 1.f;               // nucleus: smallest set with probability >= top_p; (0, 1]
  float min_p = 0.f;               // drop tokens below min_p * p(most likely); [0, 1)
  float repetition_penalty = 1.f;  // > 0; 1: off
  int repetition_window = 64;      // last tokens of the history the penalty looks at; >= 0
  uint64_t seed = 0;               // the random stream; same seed, same tokens
};

// Draws one token id per call.
//
// The steps, in order (as llama.cpp and HF transformers do):
//  1. repetition penalty: each distinct id among the last `repetition_window`
//     tokens of the history has its logit divided by the penalty if positive,
//     multiplied by it if negative;
//  2. temperature 0 stops here with the argmax (lowest id among ties), and
//     consumes no randomness;
//  3. logits / temperature;  4. top_k;  5. top_p (on the probabilities
//     renormalised after top_k);  6. min_p;  7. one draw from what remains.
// Tokens with logit -inf are never drawn (a caller's mask).
//
// Reproducible: the random stream is std::mt19937_64 (fully specified by the
// C++ standard) seeded with `seed`, each non-greedy sample() takes exactly one
// 64-bit draw, turned into [0, 1) by this file rather than by
// std::uniform_real_distribution (whose output is implementation-defined),
// and candidates are kept in an order that does not depend on the standard
// library (logit descending, then id ascending, or id order). Probabilities
// are computed in double with std::exp, so only a draw landing within a
// rounding error of a boundary could differ between math libraries.
//
// Not thread-safe: one Sampler per generating sequence.
class Sampler {
 public:
  explicit Sampler(SamplingParams params);

  // kInvalidArgument when a parameter is out of range (the message names it):
  // temperature < 0 or NaN, top_k < 0, top_p outside (0, 1], min_p outside
  // [0, 1), repetition_penalty <= 0 or NaN, repetition_window < 0.
  static Status Validate(const SamplingParams& params);

  // logits: [vocab] for one position. history: the tokens so far (prompt and
  // generated), oldest first; ids outside [0, vocab) are ignored.
  // kInvalidArgument for invalid params (see Validate), empty logits, a NaN
  // or +inf logit, or no token with a finite logit.
  Result<int32_t> sample(std::span<const float> logits, std::span<const int32_t> history);

  const SamplingParams& params() const { return params_; }

 private:
  struct Candidate {
    double score;  // logit / temperature
    int32_t id;
  };

  double uniform01();  // [0, 1) from one 64-bit draw, 53 bits

  SamplingParams params_;
  Status params_status_;
  std::mt19937_64 rng_;
  std::vector<float> work_;      // [vocab] penalised logits
  std::vector<Candidate> cand_;  // surviving candidates
  std::vector<int32_t> recent_;  // distinct ids of the penalty window
};

// Result of feeding one piece of generated text to a StopStringMatcher.
struct StopMatch {
  std::string emit;      // text that is safe to show now (before any stop string)
  bool stopped = false;  // a stop string was completed; emit ends right before it
  int stop_index = -1;   // which stop string (index in the constructor's list), or -1
};

// Finds stop strings in text that arrives in pieces (one per token), where a
// stop string may span pieces. Text that could be the start of a stop string
// is held back until it is known either way; everything before it is emitted.
// Once stopped, further pieces are ignored. Empty stop strings are ignored.
// Not thread-safe.
class StopStringMatcher {
 public:
  explicit StopStringMatcher(std::vector<std::string> stops);

  // Appends `piece` and returns what can be emitted. If several stop strings
  // occur, the one starting earliest wins (the first listed, on a tie).
  StopMatch push(std::string_view piece);

  // End of generation: pushes `tail`, then returns everything still held back
  // (a partial prefix of a stop string is just text now), or the text before
  // a stop string if `tail` completes one.
  std::string finish(std::string_view tail = {});

  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;  // held back: a suffix that is a proper prefix of some stop string
  bool stopped_ = false;
};

}  // namespace ringlm
