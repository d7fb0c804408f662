// Log-probabilities of generated tokens: token_logprob against hand-computed
// values (ties, -inf logits, the cap on alternatives), and through the
// engine: the first token's equals the log-softmax of the prompt's logits,
// greedy tokens are their step's most likely, two ranks give one rank's.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "runtime/engine.h"
#include "runtime/logprobs.h"
#include "session_engine.h"

using namespace ringlm;
using namespace ringlm::test;

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

}  // namespace

TEST_CASE("token_logprob is the log-softmax, with the likeliest tokens first", "[logprobs]") {
  const std::vector<float> logits{1.f, 3.f, kNegInf, 3.f, 0.f};
  const double lse = std::log(std::exp(1.0) + 2 * std::exp(3.0) + std::exp(0.0));
  const TokenLogprob r = token_logprob(logits, 0, 4);
  CHECK(r.token == 0);
  CHECK(r.logprob == Approx(1.0 - lse).epsilon(1e-6));
  CHECK(r.top_tokens == std::vector<int32_t>{1, 3, 0, 4});  // a tie: the lower id first
  REQUIRE(r.top_logprobs.size() == 4);
  CHECK(r.top_logprobs[0] == Approx(3.0 - lse).epsilon(1e-6));
  CHECK(r.top_logprobs[3] == Approx(0.0 - lse).epsilon(1e-6));
  // Probability zero: its own logprob is -inf, and it is never an alternative.
  const TokenLogprob z = token_logprob(logits, 2, kMaxTopLogprobs);
  CHECK(z.logprob == kNegInf);
  CHECK(z.top_tokens.size() == 4);
  CHECK(token_logprob(logits, 1, 0).top_tokens.empty());
  // Large logits do not overflow.
  const TokenLogprob big = token_logprob(std::vector<float>{1e30f, 1e30f}, 1, 1);
  CHECK(big.logprob == Approx(-std::log(2.0)));
}

TEST_CASE("generated tokens carry their log-probabilities", "[logprobs]") {
  auto e1 = make_session_engine(1);
  auto e2 = make_session_engine(2);
  GenerateOptions g;
  g.max_tokens = 6;
  g.want_prompt_logits = true;
  g.top_logprobs = 5;  // implies logprobs
  const std::vector<int32_t> prompt = salted_ids(40, 3);
  auto r1 = e1->generate(e1->open_session().value(), prompt, g);
  auto r2 = e2->generate(e2->open_session().value(), prompt, g);
  REQUIRE(r1.ok());
  REQUIRE(r2.ok());
  REQUIRE(r1->logprobs.size() == r1->tokens.size());
  REQUIRE(r2->logprobs.size() == r1->tokens.size());
  REQUIRE_FALSE(r1->tokens.empty());
  // The first token's: the log-softmax of the prompt's logits.
  const TokenLogprob first = token_logprob(r1->prompt_logits, r1->tokens[0], 5);
  CHECK(r1->logprobs[0].logprob == first.logprob);
  CHECK(r1->logprobs[0].top_tokens == first.top_tokens);
  for (size_t i = 0; i < r1->tokens.size(); ++i) {
    const TokenLogprob& a = r1->logprobs[i];
    CHECK(a.token == r1->tokens[i]);
    REQUIRE(a.top_tokens.size() == 5);
    CHECK(a.top_tokens[0] == a.token);  // greedy
    CHECK(a.top_logprobs[0] == a.logprob);
    CHECK(a.logprob <= 0.f);
    for (size_t k = 1; k < 5; ++k) CHECK(a.top_logprobs[k] <= a.top_logprobs[k - 1]);
    CHECK(r2->logprobs[i].logprob == Approx(a.logprob).margin(1e-4));
  }
}

TEST_CASE("log-probabilities only when asked, and within bounds", "[logprobs]") {
  auto e = make_session_engine(1);
  const SessionId s = e->open_session().value();
  GenerateOptions g;
  g.max_tokens = 2;
  auto plain = e->generate(s, salted_ids(5, 1), g);
  REQUIRE(plain.ok());
  CHECK(plain->logprobs.empty());
  g.logprobs = true;
  auto only = e->generate(s, salted_ids(5, 2), g);
  REQUIRE(only.ok());
  REQUIRE(only->logprobs.size() == only->tokens.size());
  CHECK(only->logprobs[0].top_tokens.empty());
  const std::vector<int32_t> history = e->session_tokens(s).value();
  g.top_logprobs = kMaxTopLogprobs + 1;
  CHECK(e->generate(s, salted_ids(5, 3), g).status().code() == StatusCode::kInvalidArgument);
  g.top_logprobs = -1;
  CHECK(e->generate(s, salted_ids(5, 3), g).status().code() == StatusCode::kInvalidArgument);
  CHECK(e->session_tokens(s).value() == history);
}
