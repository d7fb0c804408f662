#include "runtime/engine.h"

#include <algorithm>

#include "model/gguf.h"
#include "runtime/backend_factory.h"
#include "runtime/rank_group.h"
#include "tokenizer/gguf_tokenizer.h"

namespace ringlm {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kContextFull:
      return "context_full";
  }
  return "?";
}


Result<std::unique_ptr<Engine>> Engine::Create(const EngineOptions& opts) {
  RINGLM_RETURN_IF_ERROR(check_engine_options(opts));
  if (opts.rank != 0)
    return InvalidArgument("an Engine is the leader (rank 0); other ranks run serve_worker()");
  std::unique_ptr<Engine> e(new Engine());
  e->opts_ = opts;
  RINGLM_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, GgufFile::Open(opts.model_path));
  RINGLM_ASSIGN_OR_RETURN(TokenizerData td, tokenizer_data_from_gguf(*file));
  RINGLM_ASSIGN_OR_RETURN(e->tokenizer_, Tokenizer::Create(std::move(td)));
  RINGLM_ASSIGN_OR_RETURN(ChatTemplate tmpl, ChatTemplate::FromGguf(*file, opts.chat_template));
  e->template_ = std::make_unique<ChatTemplate>(std::move(tmpl));
  const int local_ranks = opts.store.empty() ? opts.world_size : 1;
  const int threads = opts.threads_per_rank > 0
                          ? opts.threads_per_rank
                          : std::max(1, int(std::thread::hardware_concurrency()) / local_ranks);
  RINGLM_ASSIGN_OR_RETURN(std::unique_ptr<Backend> be, make_backend(opts, 0, threads));
  RINGLM_ASSIGN_OR_RETURN(e->model_, LlamaModel::Load(*file, *be));
  if (e->tokenizer_->vocab_size() > e->model_->config().vocab)
    return CorruptData("tokenizer vocabulary larger than the model's embedding table");
  e->info_.version = RINGLM_VERSION_STRING;
  e->info_.model = e->model_->config();
  e->info_.model_fingerprint = e->model_->fingerprint();
  e->info_.world_size = opts.world_size;
  e->info_.backend = std::string(be->name());
  const kernels::KvType kv = resolve_kv_type(opts.kv_cache_type, be->name());
  e->info_.kv_type = kv;
  e->info_.weight_type = resolve_weight_type(opts.weight_type, be->name());
  EngineOptions group_opts = opts;
  group_opts.kv_cache_type = kv == kernels::KvType::kBF16 ? KvCacheType::kBF16 : KvCacheType::kF32;
  e->info_.chat_template = std::string(e->template_->name());
  const GgufFile& gguf = *file;
  ModelLoader loader = [&gguf](Backend& b) { return LlamaModel::Load(gguf, b); };
  RINGLM_ASSIGN_OR_RETURN(e->group_,
                          RankGroup::Start(group_opts, *e->model_, std::move(be), loader));
  file.reset();
  e->info_.calibration = e->group_->calibration();
  return e;
}

Engine::~Engine() {
  std::lock_guard<std::mutex> run(run_mu_);
  group_.reset();
}

}  // namespace ringlm
