/* Cancellation and failure paths of running requests through the C ABI:
 * cancel during prefill (between steps) and during decode (between tokens),
 * cancel with nothing running, context overflow, close with a request in
 * flight, a close from another thread while a *_stream request runs, calls
 * an event callback may not make, and an engine destroyed while its sessions
 * live on. After each, the session is still usable. Plain C. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "capi_test_util.h"

static ringlm_engine* g_engine;

/* Pulls the next event as JSON (free()). */
static char* next_json(ringlm_session* s) {
  void* ev = NULL;
  size_t len = 0;
  EXPECT_OK(ringlm_session_next_event(s, -1, &ev, &len, &err));
  CHECK(ev != NULL);
  char* json = strdup((char*)ev);
  ringlm_buffer_free(ev);
  return json;
}

static int64_t transcript_messages(ringlm_session* s) {
  void* t = NULL;
  size_t len = 0;
  EXPECT_OK(ringlm_session_transcript(s, RINGLM_FORMAT_JSON, &t, &len, &err));
  int64_t n = json_array_len((char*)t, "messages");
  ringlm_buffer_free(t);
  return n;
}

/* A short turn must complete normally: the session is usable. */
static void expect_usable(ringlm_session* s) {
  strbuf req = chat_json("Thanks.", 2);
  EXPECT_OK(ringlm_session_chat(s, req.data, req.len, RINGLM_FORMAT_JSON, &err));
  char* done = drain(s, RINGLM_FORMAT_JSON, NULL, NULL);
  CHECK(json_string_is(done, "kind", "Done"));
  CHECK(!json_string_is(done, "response.finish_reason", "Cancelled"));
  free(done);
  sb_free(&req);
}

static void test_cancel_prefill(void) {
  ringlm_session* s = NULL;
  EXPECT_OK(ringlm_session_create(g_engine, NULL, 0, RINGLM_FORMAT_JSON, &s, &err));
  strbuf long_prompt = {0};
  for (int i = 0; i < 12; ++i)
    sb_puts(&long_prompt, "The quick brown fox jumps over the lazy dog. ");
  strbuf req = chat_json(long_prompt.data, 8);
  EXPECT_OK(ringlm_session_chat(s, req.data, req.len, RINGLM_FORMAT_JSON, &err));
  char* first = next_json(s);
  CHECK(json_string_is(first, "kind", "Progress"));
  const int64_t total = json_int(first, "prefill_total", 0);
  CHECK(total > 100); /* prefill_chunk 16: many steps to stop between */
  free(first);
  EXPECT_OK(ringlm_session_cancel(s, &err));
  EXPECT_OK(ringlm_session_cancel(s, &err)); /* twice is harmless */
  event_counts counts = {0};
  char* done = drain(s, RINGLM_FORMAT_JSON, NULL, &counts);
  CHECK(json_string_is(done, "kind", "Done"));
  CHECK(json_string_is(done, "response.finish_reason", "Cancelled"));
  CHECK(json_int(done, "response.stats.generated_tokens", -1) == 0);
  CHECK(json_int(done, "response.stats.new_tokens", total) < total);
  CHECK(counts.text_events == 0);
  free(done);
  sb_free(&req);
  sb_free(&long_prompt);
  expect_usable(s);
  EXPECT_OK(ringlm_session_close(s, &err));
}

static void test_cancel_decode(void) {
  ringlm_session* s = NULL;
  EXPECT_OK(ringlm_session_create(g_engine, NULL, 0, RINGLM_FORMAT_JSON, &s, &err));
  /* Nothing runs: OK, and the next request is not affected. */
  EXPECT_OK(ringlm_session_cancel(s, &err));
  strbuf req = chat_json("Count from one to one hundred.", 60);
  EXPECT_OK(ringlm_session_chat(s, req.data, req.len, RINGLM_FORMAT_JSON, &err));
  for (;;) {
    char* ev = next_json(s);
    int is_text = json_string_is(ev, "kind", "Text");
    CHECK(!json_string_is(ev, "kind", "Done") && !json_string_is(ev, "kind", "Error"));
    free(ev);
    if (is_text) break;
  }
  EXPECT_OK(ringlm_session_cancel(s, &err));
  char* done = drain(s, RINGLM_FORMAT_JSON, NULL, NULL);
  CHECK(json_string_is(done, "response.finish_reason", "Cancelled"));
  const int64_t generated = json_int(done, "response.stats.generated_tokens", -1);
  CHECK(generated >= 1 && generated < 60);
  free(done);
  sb_free(&req);
  expect_usable(s);
  EXPECT_OK(ringlm_session_close(s, &err));
}

static void test_context_overflow(void) {
  ringlm_session* s = NULL;
  EXPECT_OK(ringlm_session_create(g_engine, NULL, 0, RINGLM_FORMAT_JSON, &s, &err));
  void* info = NULL;
  size_t len = 0;
  EXPECT_OK(ringlm_engine_info(g_engine, RINGLM_FORMAT_JSON, &info, &len, &err));
  const int64_t ctx = json_int((char*)info, "model.context_length", 0);
  ringlm_buffer_free(info);
  CHECK(ctx > 0);
  /* Raw tokens: one more than the context holds. */
  strbuf req = {0};
  sb_puts(&req, "{\"tokens\": [");
  for (int64_t i = 0; i <= ctx; ++i) sb_printf(&req, "%s%d", i ? "," : "", 100 + (int)(i % 50));
  sb_puts(&req, "], \"max_tokens\": 1}");
  EXPECT_OK(ringlm_session_generate(s, req.data, req.len, RINGLM_FORMAT_JSON, &err));
  char* ev = drain(s, RINGLM_FORMAT_JSON, NULL, NULL);
  CHECK(json_string_is(ev, "kind", "Error"));
  CHECK(json_int(ev, "status", 0) == RINGLM_STATUS_OUT_OF_RANGE);
  char* msg = json_string(ev, "message");
  CHECK(msg && strstr(msg, "context"));
  free(msg);
  free(ev);
  sb_free(&req);
  /* A chat turn too long for the context, in binary. */
  strbuf huge = {0};
  for (int64_t i = 0; i < ctx; ++i) sb_puts(&huge, "word ");
  req = chat_json(huge.data, 1);
  size_t fb_len = 0;
  void* fb = to_flatbuffer(RINGLM_MESSAGE_CHAT_REQUEST, req.data, &fb_len);
  EXPECT_OK(ringlm_session_chat(s, fb, fb_len, RINGLM_FORMAT_FLATBUFFERS, &err));
  ev = drain(s, RINGLM_FORMAT_FLATBUFFERS, NULL, NULL);
  CHECK(json_string_is(ev, "kind", "Error"));
  CHECK(json_int(ev, "status", 0) == RINGLM_STATUS_OUT_OF_RANGE);
  free(ev);
  ringlm_buffer_free(fb);
  sb_free(&req);
  sb_free(&huge);
  /* Nothing of either request stayed in the transcript. */
  CHECK(transcript_messages(s) == 0);
  expect_usable(s);
  CHECK(transcript_messages(s) == 2);
  EXPECT_OK(ringlm_session_close(s, &err));
}

static void test_close_in_flight(void) {
  ringlm_session* s = NULL;
  EXPECT_OK(ringlm_session_create(g_engine, NULL, 0, RINGLM_FORMAT_JSON, &s, &err));
  strbuf req = chat_json("Tell me a long story.", 200);
  EXPECT_OK(ringlm_session_chat(s, req.data, req.len, RINGLM_FORMAT_JSON, &err));
  EXPECT_OK(ringlm_session_close(s, &err)); /* cancels, waits, frees */
  void* ev = NULL;
  size_t len = 0;
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_next_event(s, 0, &ev, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_close(s, &err));
  sb_free(&req);
}

typedef struct {
  ringlm_session* self;
  ringlm_session* other;
  ringlm_session* second; /* a session of a second engine */
  int calls;
  int inner_calls;
} callback_probe;

/* Inside a stream of the second engine, itself inside the first engine's
 * callback: both engines' rings are held, so both refuse. */
static int32_t inner_probe(void* user, const void* event, size_t len) {
  (void)event;
  (void)len;
  callback_probe* p = (callback_probe*)user;
  if (p->inner_calls++ > 0) return 0;
  EXPECT_STATUS(RINGLM_STATUS_FAILED_PRECONDITION, ringlm_session_close(p->other, &err));
  EXPECT_STATUS(RINGLM_STATUS_FAILED_PRECONDITION, ringlm_session_close(p->second, &err));
  return 1; /* cancel the inner request */
}

/* Everything that would wait for the ring this callback's turn holds is
 * refused with FAILED_PRECONDITION; cancel and reads are fine. */
static int32_t probe_callback(void* user, const void* event, size_t len) {
  (void)event;
  (void)len;
  callback_probe* p = (callback_probe*)user;
  if (p->calls++ > 0) return 0;
  const ringlm_status refused = RINGLM_STATUS_FAILED_PRECONDITION;
  EXPECT_STATUS(refused, ringlm_session_close(p->other, &err));
  EXPECT_STATUS(refused, ringlm_session_close(p->self, &err));
  EXPECT_STATUS(refused, ringlm_session_save(p->other, "/tmp/ringlm_never_written", &err));
  ringlm_session* restored = NULL;
  EXPECT_STATUS(refused, ringlm_session_restore(g_engine, "/tmp/ringlm_never_read", &restored,
                                                &err));
  strbuf req = chat_json("Hi.", 2);
  EXPECT_STATUS(refused, ringlm_session_chat_stream(p->other, req.data, req.len,
                                                    RINGLM_FORMAT_JSON, probe_callback, p, &err));
  sb_free(&req);
  void* ev = NULL;
  size_t ev_len = 0;
  EXPECT_STATUS(refused, ringlm_session_next_event(p->other, -1, &ev, &ev_len, &err));
  EXPECT_STATUS(refused, ringlm_engine_destroy(g_engine, &err));
  void* t = NULL;
  size_t t_len = 0;
  EXPECT_OK(ringlm_session_transcript(p->other, RINGLM_FORMAT_JSON, &t, &t_len, &err));
  ringlm_buffer_free(t);
  /* A stream on another engine may run here; its callback is guarded for both. */
  strbuf inner = chat_json("Hi.", 4);
  EXPECT_OK(ringlm_session_chat_stream(p->second, inner.data, inner.len, RINGLM_FORMAT_JSON,
                                       inner_probe, p, &err));
  sb_free(&inner);
  CHECK(p->inner_calls >= 2);
  EXPECT_OK(ringlm_session_cancel(p->self, &err));
  return 0;
}

static void test_callback_limits(void) {
  callback_probe p = {0};
  EXPECT_OK(ringlm_session_create(g_engine, NULL, 0, RINGLM_FORMAT_JSON, &p.self, &err));
  EXPECT_OK(ringlm_session_create(g_engine, NULL, 0, RINGLM_FORMAT_JSON, &p.other, &err));
  ringlm_engine* second = open_engine(1, 16);
  EXPECT_OK(ringlm_session_create(second, NULL, 0, RINGLM_FORMAT_JSON, &p.second, &err));
  strbuf req = chat_json("Tell me a long story.", 64);
  EXPECT_OK(ringlm_session_chat_stream(p.self, req.data, req.len, RINGLM_FORMAT_JSON,
                                       probe_callback, &p, &err));
  CHECK(p.calls >= 2); /* the probe, then at least the terminal event */
  sb_free(&req);
  expect_usable(p.self);
  expect_usable(p.other);
  EXPECT_OK(ringlm_session_close(p.second, &err));
  EXPECT_OK(ringlm_engine_destroy(second, &err));
  EXPECT_OK(ringlm_session_close(p.other, &err));
  EXPECT_OK(ringlm_session_close(p.self, &err));
}

typedef struct {
  ringlm_session* s;
  atomic_int events;
  ringlm_status status;
} stream_run;

static int32_t count_events(void* user, const void* event, size_t len) {
  (void)event;
  (void)len;
  atomic_fetch_add(&((stream_run*)user)->events, 1);
  return 0;
}

static void* run_stream(void* arg) {
  stream_run* r = (stream_run*)arg;
  strbuf req = chat_json("Tell me a long story.", 200);
  ringlm_error* e = NULL;
  r->status = ringlm_session_chat_stream(r->s, req.data, req.len, RINGLM_FORMAT_JSON,
                                         count_events, r, &e);
  ringlm_error_free(e);
  sb_free(&req);
  return NULL;
}

/* A close from another thread cancels the *_stream request, waits for it to
 * end and frees the session. */
static void test_close_during_stream(void) {
  stream_run r = {0};
  EXPECT_OK(ringlm_session_create(g_engine, NULL, 0, RINGLM_FORMAT_JSON, &r.s, &err));
  pthread_t t;
  CHECK(pthread_create(&t, NULL, run_stream, &r) == 0);
  while (atomic_load(&r.events) < 2) sched_yield();
  EXPECT_OK(ringlm_session_close(r.s, &err));
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(r.status == RINGLM_STATUS_OK); /* ended with Done (Cancelled) */
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_close(r.s, &err));
}

static void test_engine_outlived_by_session(void) {
  ringlm_session* s = NULL;
  EXPECT_OK(ringlm_session_create(g_engine, NULL, 0, RINGLM_FORMAT_JSON, &s, &err));
  EXPECT_OK(ringlm_engine_destroy(g_engine, &err));
  void* out = NULL;
  size_t len = 0;
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_engine_info(g_engine, 0, &out, &len, &err));
  ringlm_session* s2 = NULL;
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_create(g_engine, NULL, 0, 0, &s2, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_engine_destroy(g_engine, &err));
  /* The session still has its engine until it is closed. */
  expect_usable(s);
  EXPECT_OK(ringlm_session_close(s, &err)); /* the engine shuts down here */
}

int main(void) {
  g_engine = open_engine(2, 16);
  test_cancel_prefill();
  test_cancel_decode();
  test_context_overflow();
  test_close_in_flight();
  test_callback_limits();
  test_close_during_stream();
  test_engine_outlived_by_session();
  printf("capi_cancel_test: OK\n");
  return 0;
}
