#include <cstdio>
#include <map>
#include <string>

#include "commands.h"
#include "engine_flags.h"
#include "json_writer.h"
#include "model/gguf.h"
#include "model/model_config.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace ringlm::cli {

int run_info(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, 2, {"model", "template"}, {"json"});
  if (!args.ok()) return fail(args.status());
  auto file = GgufFile::Open(args->get("model", default_model_path()));
  if (!file.ok()) return fail(file.status());
  const GgufFile& f = *file.value();
  auto cfg = model_config_from_gguf(f);
  if (!cfg.ok()) return fail(cfg.status());
  auto td = tokenizer_data_from_gguf(f);
  if (!td.ok()) return fail(td.status());
  auto tmpl = ChatTemplate::FromGguf(f, args->get("template"));
  const ModelConfig& c = cfg.value();
  // Tensors per element type (a "Q4_K_M" file mixes several), and parameters.
  std::map<std::string, int64_t> type_counts;
  int64_t params = 0;
  for (const GgufTensorInfo& t : f.tensors()) {
    ++type_counts[std::string(dtype_name(t.type))];
    params += t.elements();
  }
  JsonObject types;
  std::string types_line;
  for (const auto& [name, count] : type_counts) {
    types.integer(name, count);
    types_line += (types_line.empty() ? "" : ", ") + name + " x" + std::to_string(count);
  }
  JsonObject o;
  o.str("path", f.path())
      .str("name", c.name)
      .str("architecture", c.arch)
      .integer("gguf_version", f.version())
      .integer("tensors", int64_t(f.tensors().size()))
      .raw("tensor_types", types.str())
      .integer("parameters", params)
      .integer("layers", c.n_layers)
      .integer("dim", c.dim)
      .integer("heads", c.n_heads)
      .integer("kv_heads", c.n_kv_heads)
      .integer("head_dim", c.head_dim)
      .integer("ffn_dim", c.ffn_dim)
      .integer("vocab", c.vocab)
      .integer("context_length", c.context_length)
      .num("rope_theta", c.rope.theta)
      .num("rms_eps", c.rms_eps)
      .boolean("tied_embeddings", c.tied_embeddings)
      .str("tokenizer", td->model)
      .str("pre_tokenizer", td->pre)
      .str("chat_template", tmpl.ok() ? std::string(tmpl->name()) : "unrecognised")
      .str("fingerprint", std::to_string(f.fingerprint()));
  if (args->has("json")) {
    std::printf("%s\n", o.str().c_str());
  } else {
    std::printf(
        "%s (%s)\n  %d layers, dim %d, heads %d/%d (d=%d), ffn %d, vocab %d, ctx %d\n"
        "  rope theta %.0f, tokenizer %s/%s, chat template %s\n"
        "  %zu tensors, %.1fM parameters: %s\n",
        c.name.c_str(), c.arch.c_str(), c.n_layers, c.dim, c.n_heads, c.n_kv_heads, c.head_dim,
        c.ffn_dim, c.vocab, c.context_length, c.rope.theta, td->model.c_str(), td->pre.c_str(),
        tmpl.ok() ? std::string(tmpl->name()).c_str() : "unrecognised", f.tensors().size(),
        double(params) / 1e6, types_line.c_str());
  }
  return 0;
}

int run_tokenize(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, 2, {"model", "text"}, {"no-special", "no-bos"});
  if (!args.ok()) return fail(args.status());
  if (!args->has("text")) return fail(InvalidArgument("tokenize needs --text"));
  auto file = GgufFile::Open(args->get("model", default_model_path()));
  if (!file.ok()) return fail(file.status());
  auto td = tokenizer_data_from_gguf(*file.value());
  if (!td.ok()) return fail(td.status());
  auto tok = Tokenizer::Create(std::move(td.value()));
  if (!tok.ok()) return fail(tok.status());
  auto ids = tok.value()->encode(args->get("text"), !args->has("no-bos"), !args->has("no-special"));
  if (!ids.ok()) return fail(ids.status());
  std::printf("%s\n", json_array(ids.value()).c_str());
  return 0;
}

}  // namespace ringlm::cli
