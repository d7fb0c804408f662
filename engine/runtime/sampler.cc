#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace ringlm {
namespace {

std::string num(double v) { return std::isnan(v) ? std::string("nan") : std::to_string(v); }

}  // namespace

Status Sampler::Validate(const SamplingParams& p) {
  if (!(p.temperature >= 0.f) || std::isinf(p.temperature))
    return InvalidArgument(
        "sampling: temperature must be 0 (greedy) or a finite positive number, got " +
        num(p.temperature));
  if (p.top_k < 0)
    return InvalidArgument("sampling: top_k must be >= 0 (0 = off), got " +
                           std::to_string(p.top_k));
  if (!(p.top_p > 0.f && p.top_p <= 1.f))
    return InvalidArgument("sampling: top_p must be in (0, 1], got " + num(p.top_p));
  if (!(p.min_p >= 0.f && p.min_p < 1.f))
    return InvalidArgument("sampling: min_p must be in [0, 1), got " + num(p.min_p));
  if (!(p.repetition_penalty > 0.f) || std::isinf(p.repetition_penalty))
    return InvalidArgument(
        "sampling: repetition_penalty must be a finite number > 0 (1 = off), got " +
        num(p.repetition_penalty));
  if (p.repetition_window < 0)
    return InvalidArgument("sampling: repetition_window must be >= 0, got " +
                           std::to_string(p.repetition_window));
  return Status::Ok();
}

Sampler::Sampler(SamplingParams params)
    : params_(params), params_status_(Validate(params)), rng_(params.seed) {}

double Sampler::uniform01() {
  // The top 53 bits of one draw, scaled by 2^-53: exactly representable, in [0, 1).
  return double(rng_() >> 11) * 0x1.0p-53;
}

Result<int32_t> Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  RINGLM_RETURN_IF_ERROR(params_status_);
  if (logits.empty()) return InvalidArgument("sampling: empty logits");
  if (logits.size() > size_t(std::numeric_limits<int32_t>::max()))
    return InvalidArgument("sampling: vocabulary too large");
  const int32_t n = int32_t(logits.size());
  bool any_finite = false;
  for (int32_t i = 0; i < n; ++i) {
    const float x = logits[size_t(i)];
    if (std::isnan(x)) return InvalidArgument("sampling: logit " + std::to_string(i) + " is NaN");
    if (x == std::numeric_limits<float>::infinity())
      return InvalidArgument("sampling: logit " + std::to_string(i) + " is +inf");
    any_finite |= x != -std::numeric_limits<float>::infinity();
  }
  if (!any_finite) return InvalidArgument("sampling: every logit is -inf, nothing to sample");

  // 1. Repetition penalty, once per distinct id of the window.
  work_.assign(logits.begin(), logits.end());
  if (params_.repetition_penalty != 1.f && params_.repetition_window > 0) {
    const size_t w = std::min(history.size(), size_t(params_.repetition_window));
    recent_.assign(history.end() - std::ptrdiff_t(w), history.end());
    std::sort(recent_.begin(), recent_.end());
    recent_.erase(std::unique(recent_.begin(), recent_.end()), recent_.end());
    const float pen = params_.repetition_penalty;
    for (int32_t id : recent_) {
      if (id < 0 || id >= n) continue;
      float& x = work_[size_t(id)];
      x = x > 0.f ? x / pen : x * pen;
    }
  }

  // 2. Greedy: first maximum = lowest id among ties.
  if (params_.temperature == 0.f) {
    return int32_t(std::max_element(work_.begin(), work_.end()) - work_.begin());
  }

  // 3. Temperature, in double so that a tiny temperature cannot overflow.
  const double inv_t = 1.0 / double(params_.temperature);
  cand_.clear();
  for (int32_t i = 0; i < n; ++i) {
    const float x = work_[size_t(i)];
    if (x == -std::numeric_limits<float>::infinity()) continue;
    cand_.push_back({double(x) * inv_t, i});
  }
  // Strict total order (score descending, then id ascending): whichever
  // algorithm the standard library uses, the selected set and its order are
  // the same.
  const auto better = [](const Candidate& a, const Candidate& b) {
    return a.score > b.score || (a.score == b.score && a.id < b.id);
  };
  bool sorted = false;  // cand_ is in `better` order (else in id order)

  // 4. top_k.
  if (params_.top_k > 0 && size_t(params_.top_k) < cand_.size()) {
    std::partial_sort(cand_.begin(), cand_.begin() + params_.top_k, cand_.end(), better);
    cand_.resize(size_t(params_.top_k));
    sorted = true;
  }

  double max_score = -std::numeric_limits<double>::infinity();
  for (const Candidate& c : cand_) max_score = std::max(max_score, c.score);

  // 5. top_p: the smallest prefix, most likely first, whose probability
  // reaches top_p. The vocabulary is not sorted whole: the next 64, 256,
  // 1024, ... candidates are brought into order only while the prefix still
  // falls short, so a peaked distribution costs one partial sort of 64.
  if (params_.top_p < 1.f) {
    double total = 0.0;
    for (const Candidate& c : cand_) total += std::exp(c.score - max_score);
    const double target = double(params_.top_p) * total;
    size_t ordered = sorted ? cand_.size() : 0;  // cand_[0, ordered) is in `better` order
    size_t keep = 0;
    double cum = 0.0;
    while (keep < cand_.size() && cum < target) {
      if (keep == ordered) {
        const size_t next = std::min(cand_.size(), std::max<size_t>(64, ordered * 4));
        std::partial_sort(cand_.begin() + std::ptrdiff_t(ordered),
                          cand_.begin() + std::ptrdiff_t(next), cand_.end(), better);
        ordered = next;
      }
      cum += std::exp(cand_[keep++].score - max_score);
    }
    cand_.resize(std::max<size_t>(keep, 1));
  }

  // 6. min_p: relative to the most likely token, whose weight is exp(0) = 1.
  if (params_.min_p > 0.f) {
    const double floor = double(params_.min_p);
    std::erase_if(cand_, [&](const Candidate& c) { return std::exp(c.score - max_score) < floor; });
  }

  // 7. One draw over the remaining weights, accumulated in the kept order.
  double total = 0.0;
  for (const Candidate& c : cand_) total += std::exp(c.score - max_score);
  const double u = uniform01() * total;
  double cum = 0.0;
  for (const Candidate& c : cand_) {
    cum += std::exp(c.score - max_score);
    if (u < cum) return c.id;
  }
  return cand_.back().id;  // u within rounding of the total
}

// ---------------------------------------------------------------- stop strings

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) {
  for (std::string& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

StopMatch StopStringMatcher::push(std::string_view piece) {
  StopMatch m;
  if (stopped_) return m;
  pending_.append(piece);
  // Earliest occurrence of any stop string. Any occurrence must start inside
  // the held-back text or the new piece: everything emitted before was known
  // not to start one.
  size_t best = std::string::npos;
  for (size_t k = 0; k < stops_.size(); ++k) {
    const size_t at = pending_.find(stops_[k]);
    if (at < best) {
      best = at;
      m.stop_index = int(k);
    }
  }
  if (best != std::string::npos) {
    m.emit = pending_.substr(0, best);
    m.stopped = true;
    stopped_ = true;
    pending_.clear();
    return m;
  }
  // Hold back the longest suffix that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const std::string& s : stops_) {
    for (size_t len = std::min(s.size() - 1, pending_.size()); len > hold; --len) {
      if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  m.emit = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return m;
}

std::string StopStringMatcher::finish(std::string_view tail) {
  StopMatch m = push(tail);
  if (m.stopped) return std::move(m.emit);
  m.emit += pending_;
  pending_.clear();
  return std::move(m.emit);
}

}  // namespace ringlm
