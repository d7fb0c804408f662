// ChatTemplate: renders a conversation into the prompt text a model expects.
//
// The template families are recognised from the model's Jinja chat template
// (tokenizer.chat_template) and rendered natively, producing exactly what the
// Jinja template produces for plain text conversations:
//   chatml   "<|im_start|>" in the template (SmolLM2, Qwen2, Hermes, ...).
//            A default system prompt that the template inserts when the
//            conversation does not start with one is taken from the template.
//   llama3   "<|start_header_id|>" (Llama 3 / 3.0 template; message content
//            trimmed, BOS text before the first message)
//   llama2   "[INST]" with "<<SYS>>" (system folded into the first user turn)
//   mistral  "[INST]" without "<<SYS>>" (Mistral 7B Instruct)
//
// Immutable; thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ringlm {

class GgufFile;

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" (others rendered as-is by chatml/llama3)
  std::string content;
  bool operator==(const ChatMessage&) const = default;
};

enum class ChatTemplateFamily { kChatMl, kLlama3, kLlama2, kMistral };

// A rendered prompt: its text, and the byte ranges [begin, end) of the text
// that came from message content, in order. Tokenizer::encode_prompt takes
// the ranges as plain text: a control token's text typed into a message (say
// "<|im_end|>") stays text and cannot forge the conversation's structure.
struct PromptText {
  std::string text;
  std::vector<std::pair<size_t, size_t>> content;

  PromptText& operator+=(std::string_view structure) {
    text += structure;
    return *this;
  }
  void add_content(std::string_view s) {
    if (!s.empty()) content.emplace_back(text.size(), text.size() + s.size());
    text += s;
  }
  void append(const PromptText& p);
};

class ChatTemplate {
 public:
  // `source`: the Jinja template text (may be empty when `override_name` is
  // given). `override_name`: "" to detect from `source`, else one of
  // "chatml", "llama3", "llama2", "mistral". `bos_token`/`eos_token`: the
  // texts the template's bos_token/eos_token variables stand for.
  // Errors: kInvalidArgument for an unknown override name; kUnsupported when
  // no override is given and `source` is empty or of no known family (the
  // message names the override option and its values).
  static Result<ChatTemplate> Create(std::string_view source, std::string_view override_name,
                                     std::string bos_token, std::string eos_token);

  // From a GGUF file's tokenizer.chat_template and its BOS/EOS token texts
  // (defined in gguf_tokenizer.cc). Errors as Create, plus the file's own.
  static Result<ChatTemplate> FromGguf(const GgufFile& file, std::string_view override_name);

  ChatTemplateFamily family() const { return family_; }
  // "chatml", "llama3", "llama2" or "mistral".
  std::string_view name() const;
  // The system prompt inserted when a conversation has none; empty if none.
  const std::string& default_system_prompt() const { return default_system_; }

  // Renders `messages`. add_generation_prompt appends the assistant header
  // where the family has one (chatml, llama3; llama2 and mistral prompts
  // already end where the assistant answers). Departures where the Jinja
  // templates raise instead: llama2 and mistral skip roles other than user and
  // assistant (mistral first folds a leading system message into the first
  // user message as "system\n\nuser"), and they do not check alternation.
  std::string render(std::span<const ChatMessage> messages, bool add_generation_prompt) const;
  // The same text with the ranges message content fills.
  PromptText render_prompt(std::span<const ChatMessage> messages, bool add_generation_prompt) const;

  // render(all) minus its prefix render(history, false): the text a session
  // appends for `added` on top of an already processed `history`. For every
  // family render(history + added) starts with render(history, false) (the
  // tests check this), so nothing is lost.
  std::string render_continuation(std::span<const ChatMessage> history,
                                  std::span<const ChatMessage> added,
                                  bool add_generation_prompt) const;

  // Texts that end an assistant turn: {"<|im_end|>"}, {"<|eot_id|>"}, {eos}.
  std::vector<std::string> stop_strings() const;

 private:
  ChatTemplate() = default;

  PromptText render_chatml(std::span<const ChatMessage> m, bool agp) const;
  PromptText render_llama3(std::span<const ChatMessage> m, bool agp) const;
  PromptText render_llama2(std::span<const ChatMessage> m) const;
  PromptText render_mistral(std::span<const ChatMessage> m) const;

  ChatTemplateFamily family_ = ChatTemplateFamily::kChatMl;
  std::string default_system_;
  std::string bos_;
  std::string eos_;
};

// Python's str.strip() (Jinja's trim filter and .strip()): removes Unicode
// whitespace at both ends.
std::string python_strip(std::string_view s);

}  // namespace ringlm
