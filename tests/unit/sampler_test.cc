// Sampler (greedy, seeded reproducibility, distribution, each filter, invalid
// input) and StopStringMatcher (stop strings across pieces, hold-back).
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "runtime/sampler.h"

namespace ringlm {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int32_t sample_ok(Sampler& s, const std::vector<float>& logits,
                  const std::vector<int32_t>& history = {}) {
  auto r = s.sample(logits, history);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return r.value();
}

std::vector<int> histogram(Sampler& s, const std::vector<float>& logits, int draws) {
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < draws; ++i) ++counts[size_t(sample_ok(s, logits))];
  return counts;
}

// Pearson chi-square of counts against expected probabilities (zero-probability
// cells must have zero counts).
double chi_square(const std::vector<int>& counts, const std::vector<double>& p, int draws) {
  double chi = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) {
      CHECK(counts[i] == 0);
      continue;
    }
    const double e = p[i] * draws;
    chi += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi;
}

// log-probabilities of a small vocabulary: p = {0.1, 0.2, 0.3, 0.15, 0.25}.
const std::vector<double> kP = {0.1, 0.2, 0.3, 0.15, 0.25};
std::vector<float> log_p() {
  std::vector<float> l;
  for (double p : kP) l.push_back(float(std::log(p)) + 3.f);  // any shift: softmax is invariant
  return l;
}

std::vector<double> normalised(std::vector<double> w) {
  double s = 0;
  for (double x : w) s += x;
  for (double& x : w) x /= s;
  return w;
}

// With 4 degrees of freedom, P(chi2 > 25) ~ 5e-5; the seeds are fixed, so a
// pass is reproducible anyway.
constexpr double kChi4 = 25.0;
constexpr int kDraws = 100000;

}  // namespace

TEST_CASE("sampler: greedy is the argmax, ties to the lowest id", "[sampler]") {
  Sampler s(SamplingParams{});
  CHECK(sample_ok(s, {0.f, 3.f, 1.f, 3.f, -2.f}) == 1);
  CHECK(sample_ok(s, {kNegInf, kNegInf, -5.f}) == 2);
  CHECK(sample_ok(s, {7.f}) == 0);
  CHECK(sample_ok(s, {-1.f, -1.f, -1.f}) == 0);
}

TEST_CASE("sampler: the same seed gives the same tokens, on every platform", "[sampler]") {
  SamplingParams p;
  p.temperature = 0.8f;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.seed = 1234;
  std::vector<float> logits(1000);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = float(std::sin(double(i) * 0.37) * 4.0);
  Sampler a(p), b(p);
  std::vector<int32_t> ta, tb;
  for (int i = 0; i < 200; ++i) {
    ta.push_back(sample_ok(a, logits, ta));
    tb.push_back(sample_ok(b, logits, tb));
  }
  CHECK(ta == tb);
  p.seed = 1235;
  Sampler c(p);
  std::vector<int32_t> tc;
  for (int i = 0; i < 200; ++i) tc.push_back(sample_ok(c, logits, tc));
  CHECK(ta != tc);
  // Golden values: std::mt19937_64 is specified exactly by the standard and the
  // [0, 1) conversion and candidate order are this library's own, so these do
  // not depend on the compiler or standard library.
  const std::vector<int32_t> golden = {887, 242, 870, 887, 174, 497, 904, 887, 259, 938, 497, 191};
  CHECK(std::vector<int32_t>(ta.begin(), ta.begin() + 12) == golden);
}

TEST_CASE("sampler: temperature 1 draws the softmax distribution", "[sampler]") {
  SamplingParams p;
  p.temperature = 1.f;
  p.seed = 7;
  Sampler s(p);
  const auto counts = histogram(s, log_p(), kDraws);
  CHECK(chi_square(counts, kP, kDraws) < kChi4);
}

TEST_CASE("sampler: temperature 2 flattens to p^(1/2)", "[sampler]") {
  SamplingParams p;
  p.temperature = 2.f;
  p.seed = 8;
  Sampler s(p);
  std::vector<double> expect;
  for (double q : kP) expect.push_back(std::sqrt(q));
  const auto counts = histogram(s, log_p(), kDraws);
  CHECK(chi_square(counts, normalised(expect), kDraws) < kChi4);
}

TEST_CASE("sampler: top_k keeps the k most likely, renormalised", "[sampler]") {
  SamplingParams p;
  p.temperature = 1.f;
  p.top_k = 2;  // ids 2 (0.3) and 4 (0.25)
  p.seed = 9;
  Sampler s(p);
  const auto counts = histogram(s, log_p(), kDraws);
  CHECK(chi_square(counts, normalised({0, 0, 0.3, 0, 0.25}), kDraws) < kChi4);
}

TEST_CASE("sampler: top_k ties at the boundary keep the lower id", "[sampler]") {
  SamplingParams p;
  p.temperature = 1.f;
  p.top_k = 2;
  Sampler s(p);
  const auto counts = histogram(s, {1.f, 5.f, 5.f, 5.f}, 2000);
  CHECK(counts[0] == 0);
  CHECK(counts[3] == 0);
  CHECK(counts[1] > 0);
  CHECK(counts[2] > 0);
}

TEST_CASE("sampler: top_p keeps the smallest set reaching p", "[sampler]") {
  SamplingParams p;
  p.temperature = 1.f;
  p.top_p = 0.5f;  // 0.3 (id 2) then 0.25 (id 4): 0.55 >= 0.5
  p.seed = 10;
  Sampler s(p);
  const auto counts = histogram(s, log_p(), kDraws);
  CHECK(chi_square(counts, normalised({0, 0, 0.3, 0, 0.25}), kDraws) < kChi4);

  p.top_p = 0.29f;  // the top token (0.3) alone reaches it
  Sampler one(p);
  const auto c1 = histogram(one, log_p(), 1000);
  CHECK(c1[2] == 1000);
}

TEST_CASE("sampler: top_p over a large vocabulary (nucleus beyond the first sorted head)",
          "[sampler]") {
  // 5000 tokens with equal logits except a few: the nucleus for p = 0.9 has
  // ~4500 tokens, far past the first 64-token sorted head.
  std::vector<float> logits(5000, 0.f);
  SamplingParams p;
  p.temperature = 1.f;
  p.top_p = 0.9f;
  p.seed = 11;
  Sampler s(p);
  const auto counts = histogram(s, logits, 5000);
  int drawn_high = 0;
  for (size_t i = 4500; i < logits.size(); ++i) drawn_high += counts[i];
  CHECK(drawn_high == 0);  // ties keep the lowest ids: ids >= 4500 are outside the nucleus
  int distinct = 0;
  for (int c : counts) distinct += c > 0;
  CHECK(distinct > 3000);
}

TEST_CASE("sampler: min_p drops tokens below min_p * p_max", "[sampler]") {
  SamplingParams p;
  p.temperature = 1.f;
  p.min_p = 0.6f;  // floor 0.18: keeps 0.2, 0.3, 0.25
  p.seed = 12;
  Sampler s(p);
  const auto counts = histogram(s, log_p(), kDraws);
  CHECK(chi_square(counts, normalised({0, 0.2, 0.3, 0, 0.25}), kDraws) < kChi4);
}

TEST_CASE("sampler: filters apply in order top_k -> top_p -> min_p", "[sampler]") {
  SamplingParams p;
  p.temperature = 1.f;
  p.top_k = 3;     // {0.3, 0.25, 0.2} -> renormalised {0.4, 0.333, 0.267}
  p.top_p = 0.7f;  // 0.4 + 0.333 = 0.733 >= 0.7: {id 2, id 4}
  p.min_p = 0.5f;  // both >= 0.5 * 0.4
  p.seed = 13;
  Sampler s(p);
  const auto counts = histogram(s, log_p(), kDraws);
  CHECK(chi_square(counts, normalised({0, 0, 0.3, 0, 0.25}), kDraws) < kChi4);
}

TEST_CASE("sampler: -inf logits are never drawn", "[sampler]") {
  SamplingParams p;
  p.temperature = 5.f;
  Sampler s(p);
  const auto counts = histogram(s, {kNegInf, 0.f, kNegInf, -30.f}, 5000);
  CHECK(counts[0] == 0);
  CHECK(counts[2] == 0);
  CHECK(counts[1] + counts[3] == 5000);
}

TEST_CASE("sampler: repetition penalty divides positive, multiplies negative logits",
          "[sampler]") {
  SamplingParams p;
  p.repetition_penalty = 2.f;
  Sampler s(p);
  // 2.0 -> 1.0 falls below 1.9.
  CHECK(sample_ok(s, {2.f, 0.f, 1.9f}, {0}) == 2);
  // -1 -> -2 falls below -1.5.
  CHECK(sample_ok(s, {-1.f, -1.5f}, {0}) == 1);
  // Applied once per distinct id, however often it repeats: 3 -> 1.5 > 1.4.
  CHECK(sample_ok(s, {3.f, 1.4f}, {0, 0, 0, 0}) == 0);
  // Ids outside the vocabulary are ignored.
  CHECK(sample_ok(s, {3.f, 1.4f}, {-5, 99}) == 0);
}

TEST_CASE("sampler: repetition penalty only looks at the window", "[sampler]") {
  SamplingParams p;
  p.repetition_penalty = 2.f;
  p.repetition_window = 3;
  Sampler s(p);
  // Token 0 is 4 tokens back: outside the window, not penalised.
  CHECK(sample_ok(s, {2.f, 0.f, 1.9f}, {0, 1, 1, 1}) == 0);
  CHECK(sample_ok(s, {2.f, 0.f, 1.9f}, {1, 0, 1, 1}) == 2);
  p.repetition_window = 0;
  Sampler off(p);
  CHECK(sample_ok(off, {2.f, 0.f, 1.9f}, {0}) == 0);
}

TEST_CASE("sampler: invalid parameters and logits are kInvalidArgument", "[sampler]") {
  auto invalid = [](SamplingParams p, const std::string& name) {
    INFO(name);
    CHECK(Sampler::Validate(p).code() == StatusCode::kInvalidArgument);
    CHECK(Sampler::Validate(p).message().find(name) != std::string::npos);
    Sampler s(p);
    auto r = s.sample(std::vector<float>{1.f, 2.f}, std::vector<int32_t>{});
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
  };
  SamplingParams p;
  CHECK(Sampler::Validate(p).ok());
  p.temperature = -0.1f;
  invalid(p, "temperature");
  p.temperature = std::nanf("");
  invalid(p, "temperature");
  p = {};
  p.top_k = -1;
  invalid(p, "top_k");
  p = {};
  for (float v : {0.f, -0.5f, 1.01f, std::nanf("")}) {
    p.top_p = v;
    invalid(p, "top_p");
  }
  p = {};
  for (float v : {-0.01f, 1.f, 2.f, std::nanf("")}) {
    p.min_p = v;
    invalid(p, "min_p");
  }
  p = {};
  for (float v : {0.f, -1.f, std::nanf("")}) {
    p.repetition_penalty = v;
    invalid(p, "repetition_penalty");
  }
  p = {};
  p.repetition_window = -1;
  invalid(p, "repetition_window");

  Sampler s(SamplingParams{});
  CHECK(s.sample(std::vector<float>{}, {}).status().code() == StatusCode::kInvalidArgument);
  auto nan = s.sample(std::vector<float>{1.f, std::nanf(""), 2.f}, {});
  CHECK(nan.status().code() == StatusCode::kInvalidArgument);
  CHECK(nan.status().message().find("NaN") != std::string::npos);
  CHECK(s.sample(std::vector<float>{1.f, INFINITY}, {}).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(s.sample(std::vector<float>{kNegInf, kNegInf}, {}).status().code() ==
        StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- stop strings

namespace {

// Feeds pieces; returns everything emitted (including finish()) and whether it stopped.
std::pair<std::string, bool> run_stops(std::vector<std::string> stops,
                                       const std::vector<std::string>& pieces) {
  StopStringMatcher m(std::move(stops));
  std::string out;
  for (const auto& p : pieces) {
    StopMatch r = m.push(p);
    out += r.emit;
    if (r.stopped) return {out, true};
  }
  out += m.finish();
  return {out, false};
}

}  // namespace

TEST_CASE("stop strings: spanning pieces, hold-back and release", "[stop]") {
  StopStringMatcher m({"<|end|>"});
  StopMatch a = m.push("Hel");
  CHECK(a.emit == "Hel");
  CHECK(!a.stopped);
  StopMatch b = m.push("lo<|e");  // "<|e" may start the stop string: held back
  CHECK(b.emit == "lo");
  StopMatch c = m.push("nd|>and more");
  CHECK(c.stopped);
  CHECK(c.stop_index == 0);
  CHECK(c.emit.empty());
  CHECK(m.stopped());
  CHECK(m.push("ignored").emit.empty());

  // A held-back prefix that turns out not to be a stop string is released.
  CHECK(run_stops({"<|end|>"}, {"a<|", "x b"}) == std::pair<std::string, bool>{"a<|x b", false});
  // A partial prefix left at the end is just text.
  CHECK(run_stops({"<|end|>"}, {"a<|en"}) == std::pair<std::string, bool>{"a<|en", false});
  // Stop inside a single piece; text after it is dropped.
  CHECK(run_stops({"STOP"}, {"abcSTOPdef"}) == std::pair<std::string, bool>{"abc", true});
  // Overlapping prefix: "aab" in "aaab" fed byte by byte.
  CHECK(run_stops({"aab"}, {"a", "a", "a", "b", "c"}) == std::pair<std::string, bool>{"a", true});
  // One character at a time across a long stop string.
  CHECK(run_stops({"\n\nUser:"}, {"Hi", "\n", "\n", "U", "s", "e", "r", ":", "x"}) ==
        std::pair<std::string, bool>{"Hi", true});
  // No stop strings (or only empty ones): everything passes straight through.
  CHECK(run_stops({}, {"a", "b"}) == std::pair<std::string, bool>{"ab", false});
  CHECK(run_stops({""}, {"a", "b"}) == std::pair<std::string, bool>{"ab", false});
}

TEST_CASE("stop strings: the earliest of several wins", "[stop]") {
  StopStringMatcher m({"world", "lo w", "xyz"});
  StopMatch r = m.push("hello world");
  CHECK(r.stopped);
  CHECK(r.stop_index == 1);
  CHECK(r.emit == "hel");
  // finish() with a tail that completes a stop string.
  StopStringMatcher f({"END"});
  CHECK(f.push("abcE").emit == "abc");
  CHECK(f.finish("ND tail") == "");
  CHECK(f.stopped());
}

}  // namespace ringlm
