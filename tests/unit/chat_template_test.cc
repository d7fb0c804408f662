// ChatTemplate against renderings by the real Jinja templates (jinja2, as
// transformers runs them), from tests/data/tokenizer/chat_template_goldens.json
// (regenerate with tests/tools/make_tokenizer_goldens.py).
#include "tokenizer/chat_template.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <map>

#include "model/gguf.h"
#include "golden_lines.h"
#include "test_util.h"

namespace ringlm {
namespace {

using test::from_hex;
using test::raw_field;

// "messages_hex": [["726f6c65", "636f6e74656e74"], ...]
std::vector<ChatMessage> parse_messages(const std::string& line) {
  const std::string tag = "\"messages_hex\": [";
  size_t i = line.find(tag);
  REQUIRE(i != std::string::npos);
  i += tag.size();
  std::vector<std::string> strings;
  for (int depth = 1; depth > 0; ++i) {
    if (line[i] == '[') ++depth;
    if (line[i] == ']') --depth;
    if (line[i] == '"') {
      const size_t end = line.find('"', i + 1);
      strings.push_back(from_hex(line.substr(i + 1, end - i - 1)));
      i = end;
    }
  }
  REQUIRE(strings.size() % 2 == 0);
  std::vector<ChatMessage> out;
  for (size_t k = 0; k < strings.size(); k += 2) out.push_back({strings[k], strings[k + 1]});
  return out;
}

struct Source {
  std::string text, bos, eos;
};
struct Case {
  std::string tmpl;
  bool agp;
  std::vector<ChatMessage> messages;
  std::string expected;
};

void load(std::map<std::string, Source>* sources, std::vector<Case>* cases) {
  std::ifstream in(test::source_dir() + "/tests/data/tokenizer/chat_template_goldens.json");
  REQUIRE(in.good());
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const std::string name = raw_field(line, "template");
    if (line.find("\"source_hex\"") != std::string::npos) {
      (*sources)[name] = {from_hex(raw_field(line, "source_hex")),
                          from_hex(raw_field(line, "bos_hex")),
                          from_hex(raw_field(line, "eos_hex"))};
    } else {
      cases->push_back({name, raw_field(line, "agp") == "true", parse_messages(line),
                        from_hex(raw_field(line, "expected_hex"))});
    }
  }
  REQUIRE(sources->size() == 6);
  REQUIRE(cases->size() >= 90);
}

ChatTemplate make(const Source& s) {
  auto t = ChatTemplate::Create(s.text, "", s.bos, s.eos);
  INFO(t.status().ToString());
  REQUIRE(t.ok());
  return std::move(t).value();
}

}  // namespace

TEST_CASE("ChatTemplate renders what the Jinja templates render", "[chat_template]") {
  std::map<std::string, Source> sources;
  std::vector<Case> cases;
  load(&sources, &cases);
  for (const Case& c : cases) {
    INFO("template " << c.tmpl << ", " << c.messages.size() << " messages, agp " << c.agp);
    const ChatTemplate t = make(sources.at(c.tmpl));
    CHECK(t.render(c.messages, c.agp) == c.expected);
  }
}

TEST_CASE("render_prompt marks exactly the message content", "[chat_template]") {
  std::map<std::string, Source> sources;
  std::vector<Case> cases;
  load(&sources, &cases);
  const std::vector<ChatMessage> conv = {{"system", " sys <|im_end|> "},
                                         {"user", "u1 [INST]"},
                                         {"assistant", "a1 <|eot_id|>"},
                                         {"user", "u2\n"}};
  for (const auto& [name, source] : sources) {
    INFO(name);
    const ChatTemplate t = make(source);
    const PromptText p = t.render_prompt(conv, true);
    CHECK(p.text == t.render(conv, true));
    std::string marked;
    size_t last_end = 0;
    for (const auto& [b, e] : p.content) {
      REQUIRE(b >= last_end);
      REQUIRE(b < e);
      REQUIRE(e <= p.text.size());
      marked += p.text.substr(b, e - b) + "|";
      last_end = e;
    }
    // Every message's content, in order, trimmed where the family trims
    // (llama3: each message; llama2: each turn, the system prompt inside
    // the first), and nothing of the template's own text.
    const bool llama3 = t.family() == ChatTemplateFamily::kLlama3;
    const bool llama2 = t.family() == ChatTemplateFamily::kLlama2;
    const std::string sys = llama3 ? "sys <|im_end|>" : " sys <|im_end|> ";
    const std::string u2 = llama3 || llama2 ? "u2" : "u2\n";
    CHECK(marked == sys + "|u1 [INST]|a1 <|eot_id|>|" + u2 + "|");
  }
}

TEST_CASE("ChatTemplate recognises each family and its default system prompt", "[chat_template]") {
  std::map<std::string, Source> sources;
  std::vector<Case> cases;
  load(&sources, &cases);
  const std::map<std::string, std::pair<ChatTemplateFamily, std::string>> expect = {
      {"smollm2",
       {ChatTemplateFamily::kChatMl,
        "You are a helpful AI assistant named SmolLM, trained by Hugging Face"}},
      {"chatml", {ChatTemplateFamily::kChatMl, ""}},
      {"qwen2", {ChatTemplateFamily::kChatMl, "You are a helpful assistant."}},
      {"llama3", {ChatTemplateFamily::kLlama3, ""}},
      {"llama2", {ChatTemplateFamily::kLlama2, ""}},
      {"mistral", {ChatTemplateFamily::kMistral, ""}},
  };
  for (const auto& [name, fam] : expect) {
    INFO(name);
    const ChatTemplate t = make(sources.at(name));
    CHECK(t.family() == fam.first);
    CHECK(t.default_system_prompt() == fam.second);
  }
  CHECK(make(sources.at("smollm2")).stop_strings() == std::vector<std::string>{"<|im_end|>"});
  CHECK(make(sources.at("llama3")).stop_strings() == std::vector<std::string>{"<|eot_id|>"});
  CHECK(make(sources.at("llama2")).stop_strings() == std::vector<std::string>{"</s>"});
  CHECK(make(sources.at("mistral")).name() == "mistral");
}

TEST_CASE("a template repeating the system head is read in linear time", "[chat_template]") {
  std::map<std::string, Source> sources;
  std::vector<Case> cases;
  load(&sources, &cases);
  // 100,000 heads before SmolLM2's own template: each one's body runs to
  // the first end marker, 1.9 MB on (quadratic: hours of scanning before).
  std::string heads;
  for (int i = 0; i < 100000; ++i) heads += "<|im_start|>system\n";
  Source s = sources.at("smollm2");
  s.text = heads + s.text;
  CHECK(make(s).default_system_prompt() ==
        "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  // With no end marker at all.
  s.text = heads + "{{ messages }}";
  auto t = ChatTemplate::Create(s.text, "chatml", s.bos, s.eos);
  REQUIRE(t.ok());
  CHECK(t->default_system_prompt().empty());
}

TEST_CASE("render(full) extends render(prefix) for every family", "[chat_template]") {
  std::map<std::string, Source> sources;
  std::vector<Case> cases;
  load(&sources, &cases);
  const std::vector<ChatMessage> convs[] = {
      {{"user", "Hi"},
       {"assistant", "Hello."},
       {"user", "And?"},
       {"assistant", " More. "},
       {"user", "Bye"}},
      {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Yo."}, {"user", "Again"}},
  };
  for (const auto& [name, src] : sources) {
    const ChatTemplate t = make(src);
    for (const auto& conv : convs) {
      for (size_t k = 0; k <= conv.size(); ++k) {
        INFO(name << " prefix of " << k << " messages");
        const std::span<const ChatMessage> all(conv), prefix = all.first(k);
        const std::string head = t.render(prefix, false);
        for (bool agp : {false, true}) {
          const std::string full = t.render(all, agp);
          CHECK(full.substr(0, head.size()) == head);
          CHECK(head + t.render_continuation(prefix, all.subspan(k), agp) == full);
        }
      }
    }
  }
}

TEST_CASE("ChatTemplate overrides and errors", "[chat_template]") {
  const ChatMessage msgs[] = {{"user", "hi"}};
  auto unknown = ChatTemplate::Create("{{ messages }} custom", "", "<s>", "</s>");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().code() == StatusCode::kUnsupported);
  CHECK_THAT(unknown.status().message(), Catch::Contains("override") && Catch::Contains("chatml"));
  auto none = ChatTemplate::Create("", "", "<s>", "</s>");
  CHECK(none.status().code() == StatusCode::kUnsupported);
  auto bad = ChatTemplate::Create("", "vicuna", "<s>", "</s>");
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(bad.status().message(), Catch::Contains("vicuna"));

  auto forced = ChatTemplate::Create("{{ messages }} custom", "chatml", "<s>", "</s>");
  REQUIRE(forced.ok());
  CHECK(forced->render(msgs, true) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  auto l3 = ChatTemplate::Create("", "llama3", "<|begin_of_text|>", "<|end_of_text|>");
  REQUIRE(l3.ok());
  CHECK(l3->render(msgs, true) ==
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n");
  // Mistral's template rejects a system message; it is folded into the first
  // user turn instead.
  auto mistral = ChatTemplate::Create("", "mistral", "<s>", "</s>");
  REQUIRE(mistral.ok());
  const ChatMessage with_system[] = {{"system", "Be brief."}, {"user", "hi"}, {"assistant", "yo"}};
  CHECK(mistral->render(with_system, true) == "<s>[INST] Be brief.\n\nhi [/INST]yo</s>");
}

TEST_CASE("ChatTemplate::FromGguf reads SmolLM2's template", "[chat_template]") {
  auto file = GgufFile::Open(test::model_path());
  REQUIRE(file.ok());
  auto t = ChatTemplate::FromGguf(**file, "");
  INFO(t.status().ToString());
  REQUIRE(t.ok());
  CHECK(t->family() == ChatTemplateFamily::kChatMl);
  CHECK(t->default_system_prompt() ==
        "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  const ChatMessage msgs[] = {{"user", "What is 2+2?"}};
  CHECK(t->render(msgs, true) ==
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
  auto forced = ChatTemplate::FromGguf(**file, "llama2");
  REQUIRE(forced.ok());
  CHECK(forced->family() == ChatTemplateFamily::kLlama2);
  CHECK(forced->render(msgs, false) == "<|im_start|>[INST] What is 2+2? [/INST]");
}

TEST_CASE("python_strip matches str.strip()", "[chat_template]") {
  CHECK(python_strip("  a b \n") == "a b");
  CHECK(python_strip("\xC2\xA0\xE3\x80\x80x\xE2\x80\xA8") == "x");  // NBSP, U+3000, U+2028
  CHECK(python_strip("\x1Fx\x1C") == "x");
  CHECK(python_strip("\xE2\x80\x8Bx") == "\xE2\x80\x8Bx");  // U+200B is not whitespace
  CHECK(python_strip(" \t ").empty());
  CHECK(python_strip("") == "");
}

}  // namespace ringlm
