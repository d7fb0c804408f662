#include "runtime/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ringlm {

Status check_top_logprobs(int top) {
  if (top >= 0 && top <= kMaxTopLogprobs) return Status::Ok();
  return InvalidArgument("top_logprobs must be in [0, " + std::to_string(kMaxTopLogprobs) +
                         "], got " + std::to_string(top));
}

TokenLogprob token_logprob(std::span<const float> logits, int32_t token, int top) {
  TokenLogprob r;
  r.token = token;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  float mx = kNegInf;
  for (float x : logits) mx = std::max(mx, x);
  double sum = 0;  // of exp(x - max), in double: 128K terms
  if (mx != kNegInf)
    for (float x : logits) sum += std::exp(double(x) - mx);
  // log p = (x - max) - log(sum): max + log(sum) would lose log(sum) to
  // rounding when the logits are large.
  const double log_sum = std::log(sum);
  const auto logprob = [&](int32_t id) {
    const float x = logits[size_t(id)];
    return x == kNegInf ? kNegInf : float((double(x) - mx) - log_sum);
  };
  r.logprob = token >= 0 && size_t(token) < logits.size() ? logprob(token) : kNegInf;
  const size_t k = std::min(size_t(std::clamp(top, 0, kMaxTopLogprobs)), logits.size());
  if (k == 0) return r;
  std::vector<int32_t> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t(i);
  const auto more_likely = [&](int32_t a, int32_t b) {
    return logits[size_t(a)] > logits[size_t(b)] || (logits[size_t(a)] == logits[size_t(b)] && a < b);
  };
  std::partial_sort(ids.begin(), ids.begin() + int64_t(k), ids.end(), more_likely);
  for (size_t i = 0; i < k; ++i) {
    const float lp = logprob(ids[i]);
    if (lp == kNegInf) break;
    r.top_tokens.push_back(ids[i]);
    r.top_logprobs.push_back(lp);
  }
  return r;
}

}  // namespace ringlm
