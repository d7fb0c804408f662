// The pass-KV / pass-Q rule of docs/context-parallelism.md section 5, on
// hand-worked numbers, and the decode variant choice.
#include <catch2/catch.hpp>
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "cp/policy.h"

using namespace ringlm;

namespace {

// Llama-3-405B-like attention on 4 ranks: H_q = 128, H_kv = 8, bf16 (e = 2),
// C = 400 TFLOP/s, BW = 50 GB/s (400 Gb/s). By hand:
//   pass-KV hidden when T >= N*C*H_kv*e/(2*H_q*BW) = 4*4e14*8*2/(2*128*5e10) = 2000
//   pass-Q  hidden when T+P >= N*e*C/(4*BW)       = 4*2*4e14/(4*5e10)       = 16000
//   miss threshold = 2*H_kv/H_q - 4*T*BW/(N*C*e)  = 0.125 - T/16000
PolicyInputs big_gqa(int64_t t, int64_t p) {
  PolicyInputs in;
  in.new_tokens = t;
  in.cached_tokens = p;
  in.world_size = 4;
  in.hq = 128;
  in.hkv = 8;
  in.head_dim = 128;
  in.elem_bytes = 2;
  in.calib = {4e14, 5e10};
  return in;
}

PolicyDecision decide(const PolicyInputs& in) {
  auto d = choose_cp_variant(in);
  REQUIRE(d.ok());
  return d.value();
}

}  // namespace

TEST_CASE("policy: hiding thresholds on hand-worked numbers", "[cp]") {
  const PolicyDecision d = decide(big_gqa(1000, 127000));
  REQUIRE(d.kv_hidden_min_t == Approx(2000).epsilon(1e-12));
  REQUIRE(d.q_hidden_min_tp == Approx(16000).epsilon(1e-12));
  REQUIRE(d.miss_threshold == Approx(0.125 - 1000.0 / 16000).epsilon(1e-12));  // 0.0625
  REQUIRE(d.miss_rate == Approx(1000.0 / 128000).epsilon(1e-12));              // 0.0078125
  REQUIRE_FALSE(d.kv_hidden);
  REQUIRE(d.q_hidden);  // 128000 >= 16000
  // Q block 1000*128*128*2/4 bytes; KV block 2*128000*16384*(8/128)*2/4 bytes.
  REQUIRE(d.q_block_bytes == Approx(8192000.0));
  REQUIRE(d.kv_block_bytes == Approx(131072000.0));
  REQUIRE(d.q_smaller);
  // 1% miss rate at 128K tokens, T below the pass-KV hiding size: pass-Q.
  REQUIRE(d.variant == CpVariant::kPassQ);
  REQUIRE(d.ring);
  REQUIRE_FALSE(d.forced);

  // pass-KV hides from T = 2000 on, whatever P.
  REQUIRE(decide(big_gqa(2000, 1000000)).kv_hidden);
  REQUIRE(decide(big_gqa(2000, 1000000)).variant == CpVariant::kPassKV);
  REQUIRE_FALSE(decide(big_gqa(1999, 1000000)).kv_hidden);
  // Just below, the threshold is 0.125 - 1999/16000 = 6.25e-5: a miss rate of
  // 1999/1001999 = 2e-3 still picks pass-KV, 1999/100001999 = 2e-5 pass-Q.
  REQUIRE(decide(big_gqa(1999, 1000000)).miss_threshold == Approx(6.25e-5).epsilon(1e-9));
  REQUIRE(decide(big_gqa(1999, 1000000)).variant == CpVariant::kPassKV);
  REQUIRE(decide(big_gqa(1999, 100000000)).variant == CpVariant::kPassQ);
  // pass-Q hides from T + P = 16000 on.
  REQUIRE(decide(big_gqa(100, 15900)).q_hidden);
  REQUIRE_FALSE(decide(big_gqa(100, 15899)).q_hidden);
}

TEST_CASE("policy: miss-rate crossover including pass-Q's All2All term", "[cp]") {
  // T = 1600: threshold 0.125 - 0.1 = 0.025, i.e. T + P = 64000, P = 62400.
  REQUIRE(decide(big_gqa(1600, 62399)).variant == CpVariant::kPassKV);
  REQUIRE(decide(big_gqa(1600, 62401)).variant == CpVariant::kPassQ);
  // Full prefill with H_q > 2*H_kv: always pass-KV (miss rate 1 > 0.125).
  for (int64_t t : {1, 10, 1999}) {
    const PolicyDecision d = decide(big_gqa(t, 0));
    CAPTURE(t);
    REQUIRE(d.variant == CpVariant::kPassKV);
    REQUIRE_FALSE(d.kv_hidden);
  }
}

TEST_CASE("policy: crossover at T/(T+P) = 2*H_kv/H_q when the link is the bottleneck", "[cp]") {
  // C/BW huge: the hiding size is astronomically large and the All2All term
  // 4*T*BW/(N*C*e) vanishes, leaving the message-size comparison
  // T/(T+P) >= 2*H_kv/H_q = 16/128 = 0.125. (A fast link does the opposite:
  // pass-KV hides for every T.)
  PolicyInputs in = big_gqa(1000, 7000);  // miss rate exactly 0.125
  in.calib = {1e30, 1e-3};
  REQUIRE(decide(in).miss_threshold == 0.125);
  REQUIRE(decide(in).variant == CpVariant::kPassKV);  // ">=": a tie goes to pass-KV
  in.cached_tokens = 7001;
  REQUIRE(decide(in).variant == CpVariant::kPassQ);
  in.cached_tokens = 6999;
  REQUIRE(decide(in).variant == CpVariant::kPassKV);

  in.calib = {4e14, 1e30};  // infinitely fast link
  in.cached_tokens = 100000000;
  REQUIRE(decide(in).kv_hidden);
  REQUIRE(decide(in).variant == CpVariant::kPassKV);
}

TEST_CASE("policy: pass-Q gives way when its partials outweigh 1 GiB and pass-KV's ring", "[cp]") {
  // Link the bottleneck (threshold 0.125, as above); T = 20000, P = 400000:
  // miss rate 0.0476, so time alone picks pass-Q. Its partials are
  // 2*20000*128*129*4 = 2.64 GB on every rank; pass-KV's ring about 3 KV
  // blocks = 3*2*420000*16384*(8/128)*2/4 = 1.29 GB.
  PolicyInputs in = big_gqa(20000, 400000);
  in.calib = {1e30, 1e-3};
  const PolicyDecision d = decide(in);
  CHECK(d.pass_q_partial_bytes == Approx(2.0 * 20000 * 128 * 129 * 4));
  CHECK(d.pass_kv_ring_bytes == Approx(3.0 * 2 * 420000 * 16384 * (8.0 / 128) * 2 / 4));
  CHECK(d.variant == CpVariant::kPassKV);
  CHECK_THAT(d.reason, Catch::Contains("partials"));
  // Over 1 GiB of partials (1.32 GB) but under pass-KV's ring (3.1 GB): pass-Q.
  in.new_tokens = 10000;
  in.cached_tokens = 1000000;
  CHECK(decide(in).pass_q_partial_bytes > kPassQMaxPartialBytes);
  CHECK(decide(in).pass_q_partial_bytes < decide(in).pass_kv_ring_bytes);
  CHECK(decide(in).variant == CpVariant::kPassQ);
  // Under 1 GiB of partials pass-Q stays, whatever the ring holds.
  in.new_tokens = 8000;
  in.cached_tokens = 160000;
  CHECK(decide(in).pass_q_partial_bytes < kPassQMaxPartialBytes);
  CHECK(decide(in).variant == CpVariant::kPassQ);
  // Forced pass-Q is honoured.
  in = big_gqa(20000, 400000);
  in.forced = CpVariant::kPassQ;
  CHECK(decide(in).variant == CpVariant::kPassQ);
}

TEST_CASE("policy: full prefill with H_q <= 2*H_kv follows the two inequalities", "[cp]") {
  // MHA, N = 2, H_q = H_kv = 32, e = 2, C = 100 TFLOP/s, BW = 10 GB/s. By hand:
  //   pass-KV hidden when T >= 2*1e14*32*2/(2*32*1e10) = 20000
  //   threshold = 2 - 4*T*1e10/(2*1e14*2) = 2 - T/10000
  // P = 0 (miss rate 1): pass-KV from T = 10000 on, pass-Q below.
  PolicyInputs in;
  in.world_size = 2;
  in.hq = 32;
  in.hkv = 32;
  in.elem_bytes = 2;
  in.calib = {1e14, 1e10};
  in.cached_tokens = 0;
  in.new_tokens = 5000;
  PolicyDecision d = decide(in);
  REQUIRE(d.kv_hidden_min_t == Approx(20000));
  REQUIRE(d.miss_threshold == Approx(1.5));
  REQUIRE(d.variant == CpVariant::kPassQ);
  in.new_tokens = 9999;
  REQUIRE(decide(in).variant == CpVariant::kPassQ);
  in.new_tokens = 10001;
  REQUIRE(decide(in).variant == CpVariant::kPassKV);
  in.new_tokens = 20000;
  REQUIRE(decide(in).kv_hidden);

  // H_q == 2*H_kv: Q and KV blocks have equal size; P = 0 gives pass-KV.
  in.hkv = 16;
  in.new_tokens = 10;
  in.calib = {1e30, 1e-3};
  REQUIRE(decide(in).variant == CpVariant::kPassKV);
}

TEST_CASE("policy: K/V smaller on the wire than Q (bf16 KV cache, f32 queries)", "[cp]") {
  // big_gqa with e = 4 for Q and e_kv = 2 for K/V. By hand:
  //   pass-KV hidden when T >= N*C*H_kv*e_kv/(2*H_q*BW) = 2000 (as with e = 2)
  //   pass-Q  hidden when T+P >= N*e*C/(4*BW)          = 32000
  //   threshold = 2*(8/128)*(2/4) - 4*T*BW/(N*C*4)     = 0.0625 - T/32000
  PolicyInputs in = big_gqa(1000, 127000);
  in.elem_bytes = 4;
  in.kv_elem_bytes = 2;
  PolicyDecision d = decide(in);
  REQUIRE(d.kv_hidden_min_t == Approx(2000).epsilon(1e-12));
  REQUIRE(d.q_hidden_min_tp == Approx(32000).epsilon(1e-12));
  REQUIRE(d.miss_threshold == Approx(0.0625 - 1000.0 / 32000).epsilon(1e-12));
  // Q block 1000*16384*4/4; KV block 2*128000*16384*(8/128)*2/4.
  REQUIRE(d.q_block_bytes == Approx(16384000.0));
  REQUIRE(d.kv_block_bytes == Approx(131072000.0));
  // Q smaller while the miss rate is at most 2*(8/128)*(2/4) = 1/16.
  REQUIRE(d.q_smaller);
  REQUIRE(d.variant == CpVariant::kPassQ);  // miss rate 0.0078 < 0.03125

  // A miss rate between the mixed threshold and the single-e one: with
  // e_kv = e = 4 the rule keeps pass-Q, with the bf16 KV it takes pass-KV.
  // T = 1000, P = 19000: miss rate 0.05; thresholds 0.03125 (mixed) and
  // 0.125 - 1000/32000 = 0.09375 (e = 4 for both).
  in = big_gqa(1000, 19000);
  in.elem_bytes = 4;
  in.kv_elem_bytes = 2;
  REQUIRE(decide(in).variant == CpVariant::kPassKV);
  in.kv_elem_bytes = 0;  // = elem_bytes
  REQUIRE(decide(in).variant == CpVariant::kPassQ);
  in.kv_elem_bytes = -1;
  REQUIRE(choose_cp_variant(in).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("policy: forced variants, one rank, bad input", "[cp]") {
  PolicyInputs in = big_gqa(100000, 0);  // auto: pass-KV
  in.forced = CpVariant::kPassQ;
  PolicyDecision d = decide(in);
  REQUIRE(d.variant == CpVariant::kPassQ);
  REQUIRE(d.forced);
  in = big_gqa(10, 1000000);  // auto: pass-Q
  in.forced = CpVariant::kPassKV;
  REQUIRE(decide(in).variant == CpVariant::kPassKV);
  in.calib = {0, 0};  // a forced variant needs no calibration
  REQUIRE(decide(in).variant == CpVariant::kPassKV);

  PolicyInputs one = big_gqa(10, 1000000);
  one.world_size = 1;
  one.calib = {0, 0};
  d = decide(one);
  REQUIRE_FALSE(d.ring);
  REQUIRE(d.variant == CpVariant::kPassKV);

  PolicyInputs bad = big_gqa(10, 10);
  bad.calib = {0, 1e9};
  REQUIRE(choose_cp_variant(bad).status().code() == StatusCode::kInvalidArgument);
  bad = big_gqa(0, 10);
  REQUIRE(choose_cp_variant(bad).status().code() == StatusCode::kInvalidArgument);
  bad = big_gqa(10, 10);
  bad.hkv = 7;
  REQUIRE(choose_cp_variant(bad).status().code() == StatusCode::kInvalidArgument);
  bad = big_gqa(10, -1);
  REQUIRE(choose_cp_variant(bad).status().code() == StatusCode::kInvalidArgument);

  REQUIRE(std::string(cp_variant_name(CpVariant::kPassQ)) == "pass-q");
  REQUIRE(std::string(decode_variant_name(DecodeVariant::kRingPassQ)) == "ring-pass-q");
}

TEST_CASE("policy: decode variant from measurements", "[cp]") {
  REQUIRE(choose_decode_variant(DecodeVariant::kAuto, {}) == DecodeVariant::kAllGather);
  REQUIRE(choose_decode_variant(DecodeVariant::kAuto, {2.0, 1.5}) == DecodeVariant::kRingPassQ);
  REQUIRE(choose_decode_variant(DecodeVariant::kAuto, {1.5, 2.0}) == DecodeVariant::kAllGather);
  REQUIRE(choose_decode_variant(DecodeVariant::kAuto, {1.5, 1.5}) == DecodeVariant::kAllGather);
  REQUIRE(choose_decode_variant(DecodeVariant::kAuto, {0, 1.5}) == DecodeVariant::kAllGather);
  REQUIRE(choose_decode_variant(DecodeVariant::kRingPassQ, {1.0, 9.0}) ==
          DecodeVariant::kRingPassQ);
  REQUIRE(choose_decode_variant(DecodeVariant::kAllGather, {9.0, 1.0}) ==
          DecodeVariant::kAllGather);
}

TEST_CASE("policy: attention FLOP/s calibration on the CPU backend", "[cp]") {
  auto backend = make_cpu_backend({1});
  AttentionCalibrationOptions o;
  o.tq = 64;
  o.tk = 64;
  o.hq = 4;
  o.hkv = 2;
  o.d = 32;
  auto c = measure_attention_flops(*backend, o);
  REQUIRE(c.ok());
  REQUIRE(std::isfinite(c.value()));
  // Anything from a slow emulator (1 MFLOP/s) to far beyond one core (10 TFLOP/s).
  REQUIRE(c.value() > 1e6);
  REQUIRE(c.value() < 1e13);
  o.repeats = 0;
  REQUIRE(measure_attention_flops(*backend, o).status().code() == StatusCode::kInvalidArgument);
}
