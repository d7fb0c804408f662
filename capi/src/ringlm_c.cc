// The exported C functions: argument checks at the edge, handle lookup,
// then the runtime. Nothing thrown inside crosses this file: every function
// runs its body through api_call, which turns exceptions into a status.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "decode.h"
#include "encode.h"
#include "handles.h"
#include "messages.h"
#include "ringlm/ringlm.h"
#include "runtime/rank_group.h"
#include "session_object.h"

struct ringlm_error {
  ringlm_status status;
  std::string message;
};

namespace ringlm::capi {
namespace {

static_assert(RINGLM_STATUS_INTERNAL == int(StatusCode::kInternal), "status codes map one-to-one");
static_assert(RINGLM_STATUS_CANCELLED == int(StatusCode::kCancelled),
              "status codes map one-to-one");
static_assert(RINGLM_MAX_MESSAGE_BYTES == kMaxMessageBytes, "one message size cap");
static_assert(RINGLM_MESSAGE_TRANSCRIPT == int(MessageType::kTranscript), "message types match");
static_assert(RINGLM_FORMAT_JSON == int(Format::kJson), "formats match");

// Never destroyed: objects still open at exit are left to the OS rather than
// torn down in an unknown order by static destructors.
HandleTable<EngineObject>& engines() {
  static auto* t = new HandleTable<EngineObject>();
  return *t;
}
HandleTable<SessionObject>& sessions() {
  static auto* t = new HandleTable<SessionObject>();
  return *t;
}

ringlm_status report(const Status& st, ringlm_error** err) {
  if (st.ok()) return RINGLM_STATUS_OK;
  if (err) {
    try {
      *err = new ringlm_error{ringlm_status(st.code()), st.message()};
    } catch (...) {
      *err = nullptr;  // out of memory: the status still says what happened
    }
  }
  return ringlm_status(st.code());
}

// Runs `body` (returning Status); exceptions become statuses.
template <class F>
ringlm_status api_call(ringlm_error** err, F&& body) {
  if (err) *err = nullptr;
  Status st;
  try {
    st = body();
  } catch (...) {
    st = current_exception_status();
  }
  return report(st, err);
}

// Hands `bytes` to the caller in a malloc'd buffer with a NUL after it.
Status export_bytes(const std::string& bytes, void** out, size_t* out_len) {
  void* p = std::malloc(bytes.size() + 1);
  if (!p)
    return ResourceExhausted("out of memory for a " + std::to_string(bytes.size()) +
                             " byte buffer");
  std::memcpy(p, bytes.data(), bytes.size());
  static_cast<char*>(p)[bytes.size()] = '\0';
  *out = p;
  *out_len = bytes.size();
  return Status::Ok();
}

// The engines whose *_stream event callbacks this thread is inside (nested
// streams of several engines stack up). Each such turn holds its engine's
// ring until its callback returns, so a call from the callback that needs
// the ring (or waits for a request that does) could never finish: such
// calls are refused instead.
thread_local std::vector<const Engine*> t_callback_engines;

// Marks this thread as inside a callback of `e` for its lifetime (also when
// the callback throws).
class InCallback {
 public:
  explicit InCallback(const Engine* e) { t_callback_engines.push_back(e); }
  ~InCallback() { t_callback_engines.pop_back(); }
  InCallback(const InCallback&) = delete;
  InCallback& operator=(const InCallback&) = delete;
};

Status check_not_in_callback(const Engine& e, const char* what) {
  if (std::find(t_callback_engines.begin(), t_callback_engines.end(), &e) ==
      t_callback_engines.end())
    return Status::Ok();
  return FailedPrecondition(std::string(what) +
                            " called from an event callback of the same engine, whose turn "
                            "holds the ring until the callback returns");
}

Result<std::shared_ptr<EngineObject>> find_engine(ringlm_engine* h) {
  if (!h) return InvalidArgument("engine handle is NULL");
  std::shared_ptr<EngineObject> e = engines().get(h);
  if (!e) return NotFound("unknown engine handle (destroyed, or not an engine)");
  return e;
}

Result<std::shared_ptr<SessionObject>> find_session(ringlm_session* h) {
  if (!h) return InvalidArgument("session handle is NULL");
  std::shared_ptr<SessionObject> s = sessions().get(h);
  if (!s) return NotFound("unknown session handle (closed, or not a session)");
  return s;
}

Status check_out(const void* p, const char* what) {
  if (!p) return InvalidArgument(std::string(what) + " is NULL");
  return Status::Ok();
}

Result<ringlm_session*> add_session(std::shared_ptr<EngineObject> e, SessionId id) {
  auto s = std::make_shared<SessionObject>(std::move(e), id);
  Result<uintptr_t> h = sessions().add(s);
  if (!h.ok()) {
    (void)s->close();
    return h.status();
  }
  return reinterpret_cast<ringlm_session*>(h.value());
}

Result<Request> read_request(MessageType type, Engine& engine, const void* data, size_t len,
                             int32_t format) {
  Request req;
  RINGLM_ASSIGN_OR_RETURN(req.format, check_format(format));
  if (!data) return InvalidArgument(std::string(message_name(type)) + " is NULL");
  if (type == MessageType::kChatRequest) {
    RINGLM_ASSIGN_OR_RETURN(ChatCall c, read_chat_request(data, len, req.format));
    req.call = std::move(c);
  } else {
    RINGLM_ASSIGN_OR_RETURN(GenerateCall g, read_generate_request(data, len, req.format));
    const int vocab = engine.tokenizer().vocab_size();
    for (int32_t t : g.tokens) {
      if (t >= vocab)
        return InvalidArgument("GenerateRequest.tokens: id " + std::to_string(t) +
                               " outside the vocabulary of " + std::to_string(vocab));
    }
    req.call = std::move(g);
  }
  return req;
}

ringlm_status start_request(MessageType type, ringlm_session* session, const void* request,
                            size_t request_len, int32_t format, ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<SessionObject> s, find_session(session));
    RINGLM_ASSIGN_OR_RETURN(Request req,
                            read_request(type, s->engine(), request, request_len, format));
    return s->start(std::move(req));
  });
}

ringlm_status stream_request(MessageType type, ringlm_session* session, const void* request,
                             size_t request_len, int32_t format, ringlm_event_callback callback,
                             void* user, ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<SessionObject> s, find_session(session));
    if (!callback) return InvalidArgument("callback is NULL");
    RINGLM_RETURN_IF_ERROR(check_not_in_callback(s->engine(), "a *_stream request"));
    RINGLM_ASSIGN_OR_RETURN(Request req,
                            read_request(type, s->engine(), request, request_len, format));
    const Engine* engine = &s->engine();
    return s->run_inline(std::move(req), [&](const EncodedEvent& ev) {
      InCallback inside(engine);
      return callback(user, ev.bytes.data(), ev.bytes.size()) == 0;
    });
  });
}

}  // namespace
}  // namespace ringlm::capi

using namespace ringlm;        // NOLINT: this file only defines the C functions
using namespace ringlm::capi;  // NOLINT

extern "C" {

const char* ringlm_version(void) { return RINGLM_VERSION_STRING; }

int32_t ringlm_abi_version(void) { return RINGLM_ABI_VERSION; }

const char* ringlm_status_name(ringlm_status status) {
  switch (status) {
    case RINGLM_STATUS_OK:
      return "OK";
    case RINGLM_STATUS_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case RINGLM_STATUS_NOT_FOUND:
      return "NOT_FOUND";
    case RINGLM_STATUS_OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case RINGLM_STATUS_CORRUPT_DATA:
      return "CORRUPT_DATA";
    case RINGLM_STATUS_UNSUPPORTED:
      return "UNSUPPORTED";
    case RINGLM_STATUS_IO_ERROR:
      return "IO_ERROR";
    case RINGLM_STATUS_RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case RINGLM_STATUS_DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case RINGLM_STATUS_UNAVAILABLE:
      return "UNAVAILABLE";
    case RINGLM_STATUS_CANCELLED:
      return "CANCELLED";
    case RINGLM_STATUS_FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case RINGLM_STATUS_INTERNAL:
      return "INTERNAL";
  }
  return "UNKNOWN";
}

ringlm_status ringlm_error_status(const ringlm_error* err) {
  return err ? err->status : RINGLM_STATUS_OK;
}

const char* ringlm_error_message(const ringlm_error* err) {
  return err ? err->message.c_str() : "";
}

void ringlm_error_free(ringlm_error* err) { delete err; }

void ringlm_buffer_free(void* buffer) { std::free(buffer); }

ringlm_status ringlm_message_convert(int32_t message, const void* in, size_t in_len,
                                     int32_t in_format, int32_t out_format, void** out,
                                     size_t* out_len, ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_ASSIGN_OR_RETURN(MessageType type, check_message_type(message));
    RINGLM_ASSIGN_OR_RETURN(Format from, check_format(in_format));
    RINGLM_ASSIGN_OR_RETURN(Format to, check_format(out_format));
    RINGLM_RETURN_IF_ERROR(check_out(in, "in"));
    RINGLM_RETURN_IF_ERROR(check_out(out, "out"));
    RINGLM_RETURN_IF_ERROR(check_out(out_len, "out_len"));
    RINGLM_ASSIGN_OR_RETURN(Message m, read_message(type, in, in_len, from));
    RINGLM_ASSIGN_OR_RETURN(std::string bytes, write_message(type, m.data(), m.size(), to));
    return export_bytes(bytes, out, out_len);
  });
}

ringlm_status ringlm_engine_create(const void* config, size_t config_len, int32_t format,
                                   ringlm_engine** out, ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_RETURN_IF_ERROR(check_out(out, "out"));
    *out = nullptr;
    RINGLM_ASSIGN_OR_RETURN(Format f, check_format(format));
    RINGLM_RETURN_IF_ERROR(check_out(config, "config"));
    RINGLM_ASSIGN_OR_RETURN(EngineOptions opts, read_engine_config(config, config_len, f));
    if (opts.rank != 0)
      return InvalidArgument("EngineConfig.rank " + std::to_string(opts.rank) +
                             ": ringlm_engine_create runs the leader (rank 0); other ranks call "
                             "ringlm_engine_serve");
    RINGLM_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(opts));
    auto obj = std::make_shared<EngineObject>();
    obj->engine = std::move(engine);
    RINGLM_ASSIGN_OR_RETURN(uintptr_t h, engines().add(std::move(obj)));
    *out = reinterpret_cast<ringlm_engine*>(h);
    return Status::Ok();
  });
}

ringlm_status ringlm_engine_destroy(ringlm_engine* engine, ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    if (!engine) return Status::Ok();
    if (std::shared_ptr<EngineObject> e = engines().get(engine))
      RINGLM_RETURN_IF_ERROR(check_not_in_callback(*e->engine, "ringlm_engine_destroy"));
    std::shared_ptr<EngineObject> e = engines().take(engine);
    if (!e) return NotFound("unknown engine handle (destroyed, or not an engine)");
    e.reset();  // shuts the ranks down now unless sessions still hold the engine
    return Status::Ok();
  });
}

ringlm_status ringlm_engine_info(ringlm_engine* engine, int32_t format, void** out, size_t* out_len,
                                 ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<EngineObject> e, find_engine(engine));
    RINGLM_ASSIGN_OR_RETURN(Format f, check_format(format));
    RINGLM_RETURN_IF_ERROR(check_out(out, "out"));
    RINGLM_RETURN_IF_ERROR(check_out(out_len, "out_len"));
    RINGLM_ASSIGN_OR_RETURN(std::string bytes,
                            encode_engine_info(f, e->engine->info(), RINGLM_ABI_VERSION));
    return export_bytes(bytes, out, out_len);
  });
}

ringlm_status ringlm_engine_serve(const void* config, size_t config_len, int32_t format,
                                  ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_ASSIGN_OR_RETURN(Format f, check_format(format));
    RINGLM_RETURN_IF_ERROR(check_out(config, "config"));
    RINGLM_ASSIGN_OR_RETURN(EngineOptions opts, read_engine_config(config, config_len, f));
    if (opts.store.empty())
      return InvalidArgument(
          "ringlm_engine_serve needs EngineConfig.rendezvous (a multi-process group)");
    if (opts.rank < 1)
      return InvalidArgument(
          "ringlm_engine_serve runs ranks 1 .. world_size-1; rank 0 calls "
          "ringlm_engine_create");
    return serve_worker(opts);
  });
}

ringlm_status ringlm_engine_tokenize(ringlm_engine* engine, const char* text, size_t text_len,
                                     int32_t add_special, int32_t** tokens, size_t* n_tokens,
                                     ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<EngineObject> e, find_engine(engine));
    RINGLM_RETURN_IF_ERROR(check_out(tokens, "tokens"));
    RINGLM_RETURN_IF_ERROR(check_out(n_tokens, "n_tokens"));
    *tokens = nullptr;
    *n_tokens = 0;
    if (!text && text_len > 0) return InvalidArgument("text is NULL");
    if (text_len > kMaxMessageBytes) return OutOfRange("text longer than RINGLM_MAX_MESSAGE_BYTES");
    const std::string copy(text ? text : "", text_len);
    RINGLM_ASSIGN_OR_RETURN(
        std::vector<int32_t> ids,
        e->engine->tokenizer().encode(copy, add_special != 0, add_special != 0));
    if (ids.empty()) return Status::Ok();
    void* p = std::malloc(ids.size() * sizeof(int32_t));
    if (!p) return ResourceExhausted("out of memory");
    std::memcpy(p, ids.data(), ids.size() * sizeof(int32_t));
    *tokens = static_cast<int32_t*>(p);
    *n_tokens = ids.size();
    return Status::Ok();
  });
}

ringlm_status ringlm_engine_detokenize(ringlm_engine* engine, const int32_t* tokens,
                                       size_t n_tokens, char** text, size_t* text_len,
                                       ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<EngineObject> e, find_engine(engine));
    RINGLM_RETURN_IF_ERROR(check_out(text, "text"));
    RINGLM_RETURN_IF_ERROR(check_out(text_len, "text_len"));
    *text = nullptr;
    *text_len = 0;
    if (!tokens && n_tokens > 0) return InvalidArgument("tokens is NULL");
    if (n_tokens > kMaxMessageBytes / sizeof(int32_t)) return OutOfRange("too many tokens");
    const std::vector<int32_t> ids(tokens, tokens + n_tokens);
    const int vocab = e->engine->tokenizer().vocab_size();
    for (int32_t t : ids) {
      if (t < 0 || t >= vocab)
        return InvalidArgument("token id " + std::to_string(t) + " outside the vocabulary of " +
                               std::to_string(vocab));
    }
    const std::string s = e->engine->tokenizer().decode(ids, /*render_control=*/false);
    void* p = nullptr;
    RINGLM_RETURN_IF_ERROR(export_bytes(s, &p, text_len));
    *text = static_cast<char*>(p);
    return Status::Ok();
  });
}

ringlm_status ringlm_session_create(ringlm_engine* engine, const void* config, size_t config_len,
                                    int32_t format, ringlm_session** out, ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_RETURN_IF_ERROR(check_out(out, "out"));
    *out = nullptr;
    RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<EngineObject> e, find_engine(engine));
    RINGLM_ASSIGN_OR_RETURN(Format f, check_format(format));
    SessionOptions opts;
    if (config) {
      RINGLM_ASSIGN_OR_RETURN(opts, read_session_config(config, config_len, f));
    } else if (config_len > 0) {
      return InvalidArgument("config is NULL with config_len > 0");
    }
    RINGLM_ASSIGN_OR_RETURN(SessionId id, e->engine->open_session(opts));
    RINGLM_ASSIGN_OR_RETURN(*out, add_session(std::move(e), id));
    return Status::Ok();
  });
}

ringlm_status ringlm_session_close(ringlm_session* session, ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    if (!session) return Status::Ok();
    if (std::shared_ptr<SessionObject> s = sessions().get(session))
      RINGLM_RETURN_IF_ERROR(check_not_in_callback(s->engine(), "ringlm_session_close"));
    std::shared_ptr<SessionObject> s = sessions().take(session);
    if (!s) return NotFound("unknown session handle (closed, or not a session)");
    return s->close();
  });
}

ringlm_status ringlm_session_chat(ringlm_session* session, const void* request, size_t request_len,
                                  int32_t format, ringlm_error** err) {
  return start_request(MessageType::kChatRequest, session, request, request_len, format, err);
}

ringlm_status ringlm_session_generate(ringlm_session* session, const void* request,
                                      size_t request_len, int32_t format, ringlm_error** err) {
  return start_request(MessageType::kGenerateRequest, session, request, request_len, format, err);
}

ringlm_status ringlm_session_next_event(ringlm_session* session, int32_t timeout_ms, void** event,
                                        size_t* event_len, ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_RETURN_IF_ERROR(check_out(event, "event"));
    RINGLM_RETURN_IF_ERROR(check_out(event_len, "event_len"));
    *event = nullptr;
    *event_len = 0;
    RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<SessionObject> s, find_session(session));
    if (timeout_ms < 0)
      RINGLM_RETURN_IF_ERROR(
          check_not_in_callback(s->engine(), "ringlm_session_next_event without a timeout"));
    bool got = false;
    return s->next_event(
        timeout_ms, [&](const EncodedEvent& ev) { return export_bytes(ev.bytes, event, event_len); },
        &got);
  });
}

ringlm_status ringlm_session_cancel(ringlm_session* session, ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<SessionObject> s, find_session(session));
    s->cancel();
    return Status::Ok();
  });
}

ringlm_status ringlm_session_chat_stream(ringlm_session* session, const void* request,
                                         size_t request_len, int32_t format,
                                         ringlm_event_callback callback, void* user,
                                         ringlm_error** err) {
  return stream_request(MessageType::kChatRequest, session, request, request_len, format, callback,
                        user, err);
}

ringlm_status ringlm_session_generate_stream(ringlm_session* session, const void* request,
                                             size_t request_len, int32_t format,
                                             ringlm_event_callback callback, void* user,
                                             ringlm_error** err) {
  return stream_request(MessageType::kGenerateRequest, session, request, request_len, format,
                        callback, user, err);
}

ringlm_status ringlm_session_transcript(ringlm_session* session, int32_t format, void** out,
                                        size_t* out_len, ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<SessionObject> s, find_session(session));
    RINGLM_ASSIGN_OR_RETURN(Format f, check_format(format));
    RINGLM_RETURN_IF_ERROR(check_out(out, "out"));
    RINGLM_RETURN_IF_ERROR(check_out(out_len, "out_len"));
    RINGLM_RETURN_IF_ERROR(s->check_idle());
    RINGLM_ASSIGN_OR_RETURN(std::vector<ChatMessage> messages,
                            s->engine().session_messages(s->id()));
    RINGLM_ASSIGN_OR_RETURN(std::vector<int32_t> tokens, s->engine().session_tokens(s->id()));
    RINGLM_ASSIGN_OR_RETURN(std::string bytes,
                            encode_transcript(f, messages, int64_t(tokens.size())));
    return export_bytes(bytes, out, out_len);
  });
}

ringlm_status ringlm_session_save(ringlm_session* session, const char* path, ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<SessionObject> s, find_session(session));
    RINGLM_RETURN_IF_ERROR(check_out(path, "path"));
    if (!*path) return InvalidArgument("path is empty");
    RINGLM_RETURN_IF_ERROR(check_not_in_callback(s->engine(), "ringlm_session_save"));
    return s->while_idle([&] { return s->engine().save_session(s->id(), path); });
  });
}

ringlm_status ringlm_session_rewind(ringlm_session* session, int64_t keep_messages,
                                    ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<SessionObject> s, find_session(session));
    RINGLM_RETURN_IF_ERROR(check_not_in_callback(s->engine(), "ringlm_session_rewind"));
    return s->while_idle([&] { return s->engine().rewind_session(s->id(), keep_messages); });
  });
}

ringlm_status ringlm_session_rewind_tokens(ringlm_session* session, int64_t keep_tokens,
                                           ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<SessionObject> s, find_session(session));
    RINGLM_RETURN_IF_ERROR(check_not_in_callback(s->engine(), "ringlm_session_rewind_tokens"));
    return s->while_idle([&] { return s->engine().rewind_tokens(s->id(), keep_tokens); });
  });
}

ringlm_status ringlm_session_fork(ringlm_session* session, ringlm_session** out,
                                  ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_RETURN_IF_ERROR(check_out(out, "out"));
    *out = nullptr;
    RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<SessionObject> s, find_session(session));
    RINGLM_RETURN_IF_ERROR(check_not_in_callback(s->engine(), "ringlm_session_fork"));
    SessionId id = 0;
    RINGLM_RETURN_IF_ERROR(s->while_idle([&]() -> Status {
      RINGLM_ASSIGN_OR_RETURN(id, s->engine().fork_session(s->id()));
      return Status::Ok();
    }));
    RINGLM_ASSIGN_OR_RETURN(*out, add_session(s->engine_object(), id));
    return Status::Ok();
  });
}

ringlm_status ringlm_session_restore(ringlm_engine* engine, const char* path, ringlm_session** out,
                                     ringlm_error** err) {
  return api_call(err, [&]() -> Status {
    RINGLM_RETURN_IF_ERROR(check_out(out, "out"));
    *out = nullptr;
    RINGLM_ASSIGN_OR_RETURN(std::shared_ptr<EngineObject> e, find_engine(engine));
    RINGLM_RETURN_IF_ERROR(check_out(path, "path"));
    if (!*path) return InvalidArgument("path is empty");
    RINGLM_RETURN_IF_ERROR(check_not_in_callback(*e->engine, "ringlm_session_restore"));
    RINGLM_ASSIGN_OR_RETURN(SessionId id, e->engine->restore_session(path));
    RINGLM_ASSIGN_OR_RETURN(*out, add_session(std::move(e), id));
    return Status::Ok();
  });
}

}  // extern "C"
