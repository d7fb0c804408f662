#include "tokenizer/chat_template.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace ringlm {
namespace {

constexpr std::string_view kOverrideHint =
    "set the chat template override to one of: chatml, llama3, llama2, mistral";

bool python_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool contains(std::string_view s, std::string_view what) {
  return s.find(what) != std::string_view::npos;
}

// A system prompt the template writes as a literal, found as
// "<|im_start|>system" + newline (or the Jinja escape \n) + text + "<|im_end|>"
// where the text holds no Jinja syntax (no quotes, braces or '+': the
// non-literal variants concatenate messages[0]['content']).
std::string find_default_system(std::string_view src) {
  constexpr std::string_view kHead = "<|im_start|>system";
  constexpr std::string_view kEnd = "<|im_end|>";
  constexpr std::string_view kJinja = "'\"{}+";
  constexpr size_t npos = std::string_view::npos;
  // The next end marker and the next Jinja character at or after a body's
  // start only move forward as the heads do: linear in the template's size
  // (a hostile template repeats the head many times).
  size_t next_end = 0, next_jinja = 0;
  bool end_known = false, jinja_known = false;
  for (size_t pos = src.find(kHead); pos != npos; pos = src.find(kHead, pos + 1)) {
    size_t start = pos + kHead.size();
    if (src.substr(start).starts_with("\n")) {
      start += 1;
    } else if (src.substr(start).starts_with("\\n")) {
      start += 2;
    } else {
      continue;
    }
    if (!end_known || next_end < start) {
      next_end = src.find(kEnd, start);
      end_known = true;
    }
    if (next_end == npos) break;  // no later head has an end either
    if (next_end == start) continue;
    if (!jinja_known || next_jinja < start) {
      next_jinja = src.find_first_of(kJinja, start);
      jinja_known = true;
    }
    if (next_jinja < next_end) continue;
    const std::string_view body = src.substr(start, next_end - start);
    // Undo the Jinja string escapes a literal may use.
    std::string out;
    for (size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '\\' && i + 1 < body.size()) {
        const char e = body[++i];
        out.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
      } else {
        out.push_back(body[i]);
      }
    }
    return out;
  }
  return {};
}

// The bounds [begin, end) of python_strip(s) in s.
std::pair<size_t, size_t> python_strip_bounds(std::string_view s) {
  size_t begin = 0, end = s.size();
  while (begin < end) {
    const unicode::Utf8Scan sc = unicode::utf8_scan(s.substr(begin));
    if (sc.kind != unicode::Utf8Scan::kValid || !python_space(sc.cp)) break;
    begin += sc.len;
  }
  while (end > begin) {
    // Step back to the start of the last character.
    size_t start = end - 1;
    while (start > begin && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
    const unicode::Utf8Scan sc = unicode::utf8_scan(s.substr(start, end - start));
    if (sc.kind != unicode::Utf8Scan::kValid || start + sc.len != end || !python_space(sc.cp))
      break;
    end = start;
  }
  return {begin, end};
}

// python_strip of a rendered piece, its content ranges cut to what is kept.
PromptText strip_piece(const PromptText& p) {
  const auto [begin, end] = python_strip_bounds(p.text);
  PromptText out;
  out.text = p.text.substr(begin, end - begin);
  for (auto [b, e] : p.content) {
    b = std::clamp(b, begin, end);
    e = std::clamp(e, begin, end);
    if (b < e) out.content.emplace_back(b - begin, e - begin);
  }
  return out;
}

}  // namespace

std::string python_strip(std::string_view s) {
  const auto [begin, end] = python_strip_bounds(s);
  return std::string(s.substr(begin, end - begin));
}

void PromptText::append(const PromptText& p) {
  for (const auto& [b, e] : p.content) content.emplace_back(text.size() + b, text.size() + e);
  text += p.text;
}

Result<ChatTemplate> ChatTemplate::Create(std::string_view source, std::string_view override_name,
                                          std::string bos_token, std::string eos_token) {
  ChatTemplate t;
  t.bos_ = std::move(bos_token);
  t.eos_ = std::move(eos_token);
  if (!override_name.empty()) {
    if (override_name == "chatml") {
      t.family_ = ChatTemplateFamily::kChatMl;
    } else if (override_name == "llama3") {
      t.family_ = ChatTemplateFamily::kLlama3;
    } else if (override_name == "llama2") {
      t.family_ = ChatTemplateFamily::kLlama2;
    } else if (override_name == "mistral") {
      t.family_ = ChatTemplateFamily::kMistral;
    } else {
      return InvalidArgument("unknown chat template override '" + std::string(override_name) +
                             "'; " + std::string(kOverrideHint));
    }
  } else if (source.empty()) {
    return Unsupported("the model has no chat template; " + std::string(kOverrideHint));
  } else if (contains(source, "<|im_start|>")) {
    t.family_ = ChatTemplateFamily::kChatMl;
  } else if (contains(source, "<|start_header_id|>")) {
    t.family_ = ChatTemplateFamily::kLlama3;
  } else if (contains(source, "[INST]")) {
    t.family_ =
        contains(source, "<<SYS>>") ? ChatTemplateFamily::kLlama2 : ChatTemplateFamily::kMistral;
  } else {
    return Unsupported(
        "the model's chat template is not one of the supported families "
        "(ChatML, Llama 3, Llama 2, Mistral); " +
        std::string(kOverrideHint));
  }
  if (t.family_ == ChatTemplateFamily::kChatMl) t.default_system_ = find_default_system(source);
  return t;
}

std::string_view ChatTemplate::name() const {
  switch (family_) {
    case ChatTemplateFamily::kChatMl:
      return "chatml";
    case ChatTemplateFamily::kLlama3:
      return "llama3";
    case ChatTemplateFamily::kLlama2:
      return "llama2";
    case ChatTemplateFamily::kMistral:
      return "mistral";
  }
  return "";
}

std::string ChatTemplate::render(std::span<const ChatMessage> messages,
                                 bool add_generation_prompt) const {
  return render_prompt(messages, add_generation_prompt).text;
}

PromptText ChatTemplate::render_prompt(std::span<const ChatMessage> messages,
                                       bool add_generation_prompt) const {
  switch (family_) {
    case ChatTemplateFamily::kChatMl:
      return render_chatml(messages, add_generation_prompt);
    case ChatTemplateFamily::kLlama3:
      return render_llama3(messages, add_generation_prompt);
    case ChatTemplateFamily::kLlama2:
      return render_llama2(messages);
    case ChatTemplateFamily::kMistral:
      return render_mistral(messages);
  }
  return {};
}

std::string ChatTemplate::render_continuation(std::span<const ChatMessage> history,
                                              std::span<const ChatMessage> added,
                                              bool add_generation_prompt) const {
  std::vector<ChatMessage> all(history.begin(), history.end());
  all.insert(all.end(), added.begin(), added.end());
  const std::string full = render(all, add_generation_prompt);
  const size_t prefix = render(history, false).size();
  return prefix <= full.size() ? full.substr(prefix) : std::string();
}

PromptText ChatTemplate::render_chatml(std::span<const ChatMessage> m, bool agp) const {
  PromptText out;
  for (size_t i = 0; i < m.size(); ++i) {
    if (i == 0 && m[0].role != "system" && !default_system_.empty()) {
      out += "<|im_start|>system\n" + default_system_ + "<|im_end|>\n";
    }
    out += "<|im_start|>" + m[i].role + "\n";
    out.add_content(m[i].content);
    out += "<|im_end|>\n";
  }
  if (agp) out += "<|im_start|>assistant\n";
  return out;
}

PromptText ChatTemplate::render_llama3(std::span<const ChatMessage> m, bool agp) const {
  PromptText out;
  for (size_t i = 0; i < m.size(); ++i) {
    if (i == 0) out += bos_;
    out += "<|start_header_id|>" + m[i].role + "<|end_header_id|>\n\n";
    out.add_content(python_strip(m[i].content));
    out += "<|eot_id|>";
  }
  if (agp) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

PromptText ChatTemplate::render_llama2(std::span<const ChatMessage> m) const {
  const bool has_system = !m.empty() && m[0].role == "system";
  const std::span<const ChatMessage> loop = has_system ? m.subspan(1) : m;
  PromptText out;
  for (size_t i = 0; i < loop.size(); ++i) {
    PromptText content;
    if (i == 0 && has_system) {
      content += "<<SYS>>\n";
      content.add_content(m[0].content);
      content += "\n<</SYS>>\n\n";
    }
    content.add_content(loop[i].content);
    if (loop[i].role == "user") {
      out += bos_;
      out += "[INST] ";
      out.append(strip_piece(content));
      out += " [/INST]";
    } else if (loop[i].role == "assistant") {
      out += " ";
      out.append(strip_piece(content));
      out += " " + eos_;
    }
  }
  return out;
}

PromptText ChatTemplate::render_mistral(std::span<const ChatMessage> m) const {
  PromptText out;
  out += bos_;
  std::string system;
  size_t first = 0;
  if (!m.empty() && m[0].role == "system") {
    system = m[0].content;
    first = 1;
  }
  bool folded = system.empty();
  for (size_t i = first; i < m.size(); ++i) {
    if (m[i].role == "user") {
      out += "[INST] ";
      if (!folded) {
        out.add_content(system);
        out += "\n\n";
      }
      folded = true;
      out.add_content(m[i].content);
      out += " [/INST]";
    } else if (m[i].role == "assistant") {
      out.add_content(m[i].content);
      out += eos_;
    }
  }
  return out;
}

std::vector<std::string> ChatTemplate::stop_strings() const {
  switch (family_) {
    case ChatTemplateFamily::kChatMl:
      return {"<|im_end|>"};
    case ChatTemplateFamily::kLlama3:
      return {"<|eot_id|>"};
    case ChatTemplateFamily::kLlama2:
    case ChatTemplateFamily::kMistral:
      break;
  }
  if (eos_.empty()) return {};
  return {eos_};
}

}  // namespace ringlm
