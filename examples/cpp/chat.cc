// A multi-turn chat with ringlm from C++: the C API through find_package,
// requests built and events read with the generated FlatBuffers headers,
// streamed through the callback variant.
//
//   ringlm_chat_cpp [--model PATH] [--cp N] [--max-tokens N]
// One user message per line on stdin.
#include <ringlm/chat_request_generated.h>
#include <ringlm/engine_config_generated.h>
#include <ringlm/event_generated.h>
#include <ringlm/ringlm.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

namespace api = ringlm::api;

// Throws on failure with the call's status and message.
void check(ringlm_status st, ringlm_error* err, const char* what) {
  if (st == RINGLM_STATUS_OK) return;
  std::string msg =
      std::string(what) + ": " + ringlm_status_name(st) + ": " + ringlm_error_message(err);
  ringlm_error_free(err);
  throw std::runtime_error(msg);
}

// Owning wrappers for the handles.
struct EngineCloser {
  void operator()(ringlm_engine* e) const { ringlm_engine_destroy(e, nullptr); }
};
struct SessionCloser {
  void operator()(ringlm_session* s) const { ringlm_session_close(s, nullptr); }
};

// The callback: prints text as it comes; the Done event's stats at the end.
int32_t on_event(void* user, const void* data, size_t len) {
  flatbuffers::Verifier v(static_cast<const uint8_t*>(data), len);
  if (!api::VerifyEventBuffer(v)) return 1;  // never happens: the library verified it
  const api::Event* ev = api::GetEvent(data);
  int& turn = *static_cast<int*>(user);
  switch (ev->kind()) {
    case api::EventKind::Text:
      if (ev->text()) std::cout << ev->text()->string_view() << std::flush;
      break;
    case api::EventKind::Done: {
      const api::TurnStats* st = ev->response()->stats();
      std::cout << "\n";
      std::cerr << "[turn " << turn << ": finish "
                << api::EnumNameFinishReason(ev->response()->finish_reason()) << ", prefill "
                << st->new_tokens() << " tok (cached " << st->cached_tokens() << "), generated "
                << st->generated_tokens() << ", " << (st->variant() ? st->variant()->str() : "")
                << "]\n";
      break;
    }
    case api::EventKind::Error:
      std::cerr << "[turn " << turn << ": error " << ringlm_status_name(ev->status()) << ": "
                << (ev->message() ? ev->message()->str() : "") << "]\n";
      break;
    default:
      break;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  std::string model;
  int cp = 1, max_tokens = 128;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--model")
      model = argv[i + 1];
    else if (flag == "--cp")
      cp = std::atoi(argv[i + 1]);
    else if (flag == "--max-tokens")
      max_tokens = std::atoi(argv[i + 1]);
  }
  if (model.empty()) {
    const char* env = std::getenv("RINGLM_MODEL");
    const char* home = std::getenv("HOME");
    model = env ? env
                : std::string(home ? home : ".") +
                      "/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  }

  flatbuffers::FlatBufferBuilder b;
  api::FinishEngineConfigBuffer(b, api::CreateEngineConfigDirect(b, model.c_str(), cp));
  ringlm_engine* raw_engine = nullptr;
  ringlm_error* err = nullptr;
  check(ringlm_engine_create(b.GetBufferPointer(), b.GetSize(), RINGLM_FORMAT_FLATBUFFERS,
                             &raw_engine, &err),
        err, "ringlm_engine_create");
  std::unique_ptr<ringlm_engine, EngineCloser> engine(raw_engine);

  ringlm_session* raw_session = nullptr;
  check(ringlm_session_create(engine.get(), nullptr, 0, RINGLM_FORMAT_FLATBUFFERS, &raw_session,
                              &err),
        err, "ringlm_session_create");
  std::unique_ptr<ringlm_session, SessionCloser> session(raw_session);

  std::string line;
  int turn = 0;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    ++turn;
    b.Clear();
    auto msg = api::CreateMessageDirect(b, api::Role::User, line.c_str());
    std::vector<flatbuffers::Offset<api::Message>> msgs{msg};
    api::FinishChatRequestBuffer(b, api::CreateChatRequestDirect(b, &msgs, 0, max_tokens));
    check(ringlm_session_chat_stream(session.get(), b.GetBufferPointer(), b.GetSize(),
                                     RINGLM_FORMAT_FLATBUFFERS, on_event, &turn, &err),
          err, "ringlm_session_chat_stream");
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << e.what() << "\n";
  return 1;
}
