// `ringlm bench model`: prefill time, MFU and decode speed of one rank on a
// model shape with random weights (e.g. Llama-3-8B on one GPU), no file needed.
#include <cstdio>

#include "comm/self_comm.h"
#include "commands.h"
#include "core/timer.h"
#include "engine_flags.h"
#include "kv/paged_kv_store.h"
#include "runtime/backend_factory.h"
#include "runtime/rank_executor.h"
#if RINGLM_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

namespace ringlm::cli {
namespace {

Result<ModelConfig> shape(const std::string& name) {
  ModelConfig c;
  c.arch = "llama";
  c.name = name;
  c.rms_eps = 1e-5f;
  if (name == "llama3-8b") {
    c.n_layers = 32, c.dim = 4096, c.n_heads = 32, c.n_kv_heads = 8, c.ffn_dim = 14336;
    c.vocab = 128256, c.context_length = 1 << 20, c.rope.theta = 500000.f;
  } else if (name == "smollm2-135m") {
    c.n_layers = 30, c.dim = 576, c.n_heads = 9, c.n_kv_heads = 3, c.ffn_dim = 1536;
    c.vocab = 49152, c.context_length = 1 << 20, c.rope.theta = 100000.f;
  } else if (name == "tiny") {
    c.n_layers = 2, c.dim = 256, c.n_heads = 4, c.n_kv_heads = 2, c.ffn_dim = 512;
    c.vocab = 1000, c.context_length = 1 << 20, c.rope.theta = 10000.f;
  } else {
    return InvalidArgument("unknown --shape '" + name + "' (llama3-8b, smollm2-135m, tiny)");
  }
  c.head_dim = c.dim / c.n_heads;
  c.rope.head_dim = c.rope.rot_dim = c.head_dim;
  return c;
}

double prefill_flops(const ModelConfig& c, double t) {
  const double qd = double(c.n_heads) * c.head_dim, kvd = double(c.n_kv_heads) * c.head_dim;
  const double linear =
      2.0 * c.n_layers * (2 * qd * c.dim + 2 * kvd * c.dim + 3.0 * c.dim * c.ffn_dim);
  const double attention = 4.0 * c.n_layers * c.n_heads * c.head_dim * t * (t + 1) / 2;  // causal
  return linear * t + attention + 2.0 * c.vocab * c.dim;
}

Status bench(const Args& a) {
  RINGLM_ASSIGN_OR_RETURN(ModelConfig cfg, shape(a.get("shape", "llama3-8b")));
  RINGLM_ASSIGN_OR_RETURN(EngineOptions eo, engine_options(a));
  RINGLM_ASSIGN_OR_RETURN(int64_t chunk, a.get_int("chunk", 16384));
  RINGLM_ASSIGN_OR_RETURN(int64_t page, a.get_int("page-tokens", 8192));
  RINGLM_ASSIGN_OR_RETURN(int64_t decode, a.get_int("decode-tokens", 16));
  RINGLM_ASSIGN_OR_RETURN(double peak, a.get_double("peak-tflops", 989));
  RINGLM_ASSIGN_OR_RETURN(int64_t warm, a.get_int("warm", 1));
  if (warm != 0 && warm != 1) return InvalidArgument("--warm: 0 or 1");
  RINGLM_ASSIGN_OR_RETURN(std::vector<double> token_list,
                          a.get_double_list("tokens", "32768,131072"));
  std::vector<int64_t> lengths;
  for (double t : token_list) {
    if (t < 1 || t > (1 << 30) || t != int64_t(t))
      return InvalidArgument("--tokens: lengths must be whole numbers in [1, 2^30]");
    lengths.push_back(int64_t(t));
  }
  RINGLM_ASSIGN_OR_RETURN(std::unique_ptr<Backend> be, make_backend(eo, 0, eo.threads_per_rank));
  const kernels::KvType kv_type = resolve_kv_type(eo.kv_cache_type, be->name());
  Timer load;
  RINGLM_ASSIGN_OR_RETURN(std::unique_ptr<LlamaModel> model, LlamaModel::Random(cfg, *be, 1));
  RINGLM_RETURN_IF_ERROR(be->synchronize());
  std::printf(
      "ringlm bench model: %s on %s (%d layers, dim %d, heads %d/%d, ffn %d, vocab %d); "
      "random weights (%s) in %.1f s; chunk %lld, %s KV, peak %.0f TFLOP/s\n",
      cfg.name.c_str(), std::string(be->name()).c_str(), cfg.n_layers, cfg.dim, cfg.n_heads,
      cfg.n_kv_heads, cfg.ffn_dim, cfg.vocab,
      weight_type_name(resolve_weight_type(eo.weight_type, be->name())), load.ms() / 1000,
      (long long)chunk, kernels::kv_type_name(kv_type), peak);
  std::printf("%9s %10s %10s %9s %7s %9s %12s %10s\n", "tokens", "prefill_s", "tok/s", "TFLOP/s",
              "MFU", "cold_s", "decode_tok/s", "kv_GiB");
  for (int64_t t : lengths) {
    std::vector<int32_t> ids(t);
    for (int64_t i = 0; i < t; ++i) ids[i] = int32_t((i * 7919) % cfg.vocab);
    // Pass 0 is cold (first use of each shape: cuDNN plan builds, scratch
    // growth); pass 1 repeats it warm and is the one reported, with decode.
    double secs[2] = {0, 0}, dec = 0, kv_gib = 0;
    for (int pass = 0; pass < 1 + warm; ++pass) {
      PagedKvOptions ko;
      ko.shape = KvShape{cfg.n_layers, cfg.n_kv_heads, cfg.head_dim, kv_type};
      ko.page_tokens = page;
      ko.budget_bytes = size_t(1) << 40;
      auto kv = make_paged_kv_store(*be, ko);
      SelfComm comm;
      RankExecutor exec(*be, *model, *kv, comm, comm, RankConfig{});
      Timer timer;
      for (int64_t off = 0; off < t; off += chunk) {
        const int64_t len = std::min(chunk, t - off);
        StepOutcome o =
            exec.lead(make_step_plan(fb::StepKind::Prefill, 1, std::span(ids).subspan(off, len),
                                     int32_t(off), CpVariant::kPassKV, 0, 0, off + len == t));
        RINGLM_RETURN_IF_ERROR(o.status.WithContext("prefill at " + std::to_string(off)));
      }
      RINGLM_RETURN_IF_ERROR(be->synchronize());
      secs[pass] = timer.ms() / 1000;
      if (pass < warm) continue;
      Timer dt;
      for (int64_t i = 0; i < decode; ++i) {
        const int32_t tok = int32_t(i % cfg.vocab);
        StepOutcome o = exec.lead(make_step_plan(fb::StepKind::Decode, 1, {&tok, 1},
                                                 int32_t(t + i), CpVariant::kAuto, 0, 0, true));
        RINGLM_RETURN_IF_ERROR(o.status.WithContext("decode"));
      }
      dec = decode > 0 ? decode / (dt.ms() / 1000) : 0;
      kv_gib = kv->bytes_used() / double(1 << 30);
    }
    const double s = secs[warm];
    const double tflops = prefill_flops(cfg, double(t)) / s / 1e12;
    std::printf("%9lld %10.2f %10.0f %9.1f %6.1f%% %9.2f %12.2f %10.2f\n", (long long)t, s, t / s,
                tflops, 100 * tflops / peak, secs[0], dec, kv_gib);
#if RINGLM_HAVE_CUDA
    if (be->name() == "cuda") {
      const CudaAttentionCounts n = cuda_backend_attention_counts(*be);
      const std::string why = cuda_backend_cudnn_status(*be);
      std::printf(
          "          attention calls so far: %lld by cuDNN (%lld plans built in %.0f ms, %s), "
          "%lld by ringlm's kernel, %lld position read-backs%s%s\n",
          (long long)n.cudnn, (long long)n.cudnn_plans, n.cudnn_plan_ms,
          n.cudnn_dynamic ? "dynamic shapes" : "static shapes", (long long)n.kernel,
          (long long)n.position_readbacks, why.empty() ? "" : "; cuDNN: ", why.c_str());
    }
#endif
    std::fflush(stdout);
  }
  return Status::Ok();
}

}  // namespace

int run_bench_model(int argc, char** argv) {
  auto vf = engine_value_flags();
  vf.insert({"shape", "tokens", "chunk", "page-tokens", "decode-tokens", "peak-tflops", "warm"});
  auto args = Args::Parse(argc, argv, 3, vf, {});
  if (!args.ok()) return fail(args.status());
  Status st = bench(args.value());
  return st.ok() ? 0 : fail(st);
}

}  // namespace ringlm::cli
