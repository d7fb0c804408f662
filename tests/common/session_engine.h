// Engines on a tiny random-weight model for the session tests: small KV
// pages and prefill chunks, so that budgets, evictions and cancel points
// show at a few dozen tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "runtime/kv_transfer.h"

namespace ringlm::test {

// The tiny model of `seed` (context 512), written once per process.
std::string session_model_path(uint32_t seed = 1);

// The backend the session tests run on: RINGLM_TEST_BACKEND (cuda: N ranks
// on one GPU), else cpu.
std::string session_test_backend();

// How far prompt logits of the same history may differ between two ways of
// computing it (cached or not, another world size), as a fraction of the
// largest logit: f32 rounding on the CPU; on CUDA the GEMMs round
// activations to bf16 (as in cp_engine_test).
double logit_tolerance();

// max |got - want| <= logit_tolerance() * max |want|.
bool logits_close(const std::vector<float>& got, const std::vector<float>& want);

// An engine of n in-process ranks: one thread each, KV pages of 16 tokens
// (8256 bytes a page in f32), prefill steps of 8 tokens.
std::unique_ptr<Engine> make_session_engine(int n, size_t kv_budget = size_t(1) << 30,
                                            uint32_t seed = 1,
                                            KvCacheType kv = KvCacheType::kAuto,
                                            size_t kv_piece = kKvPieceBytes,
                                            int64_t share_prefix_min_tokens = 256);

// n token ids below 200, varied by salt.
std::vector<int32_t> salted_ids(int n, int salt);

// A raw request that must succeed, with the prompt's logits.
TurnResult raw_turn(Engine& e, SessionId s, const std::vector<int32_t>& t, int max_tokens = 4);

// A greedy chat turn of one user message that must succeed.
TurnResult chat_turn(Engine& e, SessionId s, const std::string& user, int max_tokens = 4);

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace ringlm::test
