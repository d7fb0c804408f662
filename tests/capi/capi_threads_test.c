/* Many host threads driving many sessions of one engine at once, in both
 * formats and both streaming styles, with engine calls, forks, rewinds and
 * prefix sharing in between and a
 * thread that cancels requests (and pokes closed handles) at random. Every
 * request must end with exactly one terminal event, every session stays
 * usable, and nothing crashes or hangs. Run under ThreadSanitizer by
 * tools/tsan_check.sh. Plain C with pthreads.
 *
 * Environment: RINGLM_CAPI_THREADS (host threads, default 4),
 * RINGLM_CAPI_TURNS (turns per session, default 2). */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "capi_test_util.h"

#define SESSIONS_PER_THREAD 2
#define MAX_THREADS 32

static ringlm_engine* g_engine;
static int g_threads = 4;
static int g_turns = 2;
static ringlm_session* _Atomic g_handles[MAX_THREADS * SESSIONS_PER_THREAD];
static atomic_int g_running;
static atomic_int g_done_events, g_cancelled, g_cancel_calls, g_shared;

static int env_int(const char* name, int def) {
  const char* v = getenv(name);
  return v && *v ? atoi(v) : def;
}

typedef struct {
  int texts;
  int terminal;
} cb_state;

static int32_t count_event(void* user, const void* event, size_t len) {
  cb_state* st = (cb_state*)user;
  char* json = to_json(RINGLM_MESSAGE_EVENT, event, len);
  if (json_string_is(json, "kind", "Text")) st->texts++;
  if (json_string_is(json, "kind", "Done") || json_string_is(json, "kind", "Error")) st->terminal++;
  ringlm_buffer_free(json);
  return 0;
}

static void check_terminal(const char* json) {
  if (!json_string_is(json, "kind", "Done")) {
    fprintf(stderr, "unexpected terminal event: %s\n", json);
    exit(1);
  }
  atomic_fetch_add(&g_done_events, 1);
  if (json_string_is(json, "response.finish_reason", "Cancelled"))
    atomic_fetch_add(&g_cancelled, 1);
  if (json_int(json, "response.stats.shared_tokens", 0) > 0) atomic_fetch_add(&g_shared, 1);
}

static void* host_thread(void* arg) {
  const int t = (int)(intptr_t)arg;
  ringlm_session* mine[SESSIONS_PER_THREAD];
  for (int i = 0; i < SESSIONS_PER_THREAD; ++i) {
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"system_prompt\": \"You are assistant %d.\"}", t * 10 + i);
    EXPECT_OK(
        ringlm_session_create(g_engine, cfg, strlen(cfg), RINGLM_FORMAT_JSON, &mine[i], &err));
    atomic_store(&g_handles[t * SESSIONS_PER_THREAD + i], mine[i]);
  }
  for (int turn = 0; turn < g_turns; ++turn) {
    for (int i = 0; i < SESSIONS_PER_THREAD; ++i) {
      ringlm_session* s = mine[i];
      char user[96];
      snprintf(user, sizeof user, "Thread %d, session %d, turn %d: say a word.", t, i, turn);
      strbuf req = chat_json(user, 2);
      const int style = (t + i + turn) % 3;
      if (style == 0) { /* pull, JSON */
        EXPECT_OK(ringlm_session_chat(s, req.data, req.len, RINGLM_FORMAT_JSON, &err));
        char* done = drain(s, RINGLM_FORMAT_JSON, NULL, NULL);
        check_terminal(done);
        free(done);
      } else if (style == 1) { /* pull, FlatBuffers */
        size_t len = 0;
        void* fb = to_flatbuffer(RINGLM_MESSAGE_CHAT_REQUEST, req.data, &len);
        EXPECT_OK(ringlm_session_chat(s, fb, len, RINGLM_FORMAT_FLATBUFFERS, &err));
        ringlm_buffer_free(fb);
        char* done = drain(s, RINGLM_FORMAT_FLATBUFFERS, NULL, NULL);
        check_terminal(done);
        free(done);
      } else { /* callback, FlatBuffers */
        size_t len = 0;
        void* fb = to_flatbuffer(RINGLM_MESSAGE_CHAT_REQUEST, req.data, &len);
        cb_state st = {0, 0};
        EXPECT_OK(ringlm_session_chat_stream(s, fb, len, RINGLM_FORMAT_FLATBUFFERS, count_event,
                                             &st, &err));
        CHECK(st.terminal == 1);
        atomic_fetch_add(&g_done_events, 1);
        ringlm_buffer_free(fb);
      }
      sb_free(&req);
      /* The engine is shared: read-only calls from every thread. */
      void* info = NULL;
      size_t info_len = 0;
      EXPECT_OK(ringlm_engine_info(g_engine, RINGLM_FORMAT_FLATBUFFERS, &info, &info_len, &err));
      ringlm_buffer_free(info);
      int32_t* ids = NULL;
      size_t n = 0;
      EXPECT_OK(ringlm_engine_tokenize(g_engine, user, strlen(user), 1, &ids, &n, &err));
      ringlm_buffer_free(ids);
    }
  }
  /* A fork of one session, rewound to its system prompt, takes a turn of
   * its own: forks and rewinds from every thread at once. */
  ringlm_session* f = NULL;
  EXPECT_OK(ringlm_session_fork(mine[0], &f, &err));
  EXPECT_OK(ringlm_session_rewind(f, 1, &err));
  {
    strbuf req = chat_json("A fresh start: say a word.", 2);
    EXPECT_OK(ringlm_session_chat(f, req.data, req.len, RINGLM_FORMAT_JSON, &err));
    char* done = drain(f, RINGLM_FORMAT_JSON, NULL, NULL);
    check_terminal(done);
    free(done);
    sb_free(&req);
    void* tr = NULL;
    size_t len = 0;
    EXPECT_OK(ringlm_session_transcript(f, RINGLM_FORMAT_JSON, &tr, &len, &err));
    CHECK(json_array_len((char*)tr, "messages") == 3);
    ringlm_buffer_free(tr);
  }
  EXPECT_OK(ringlm_session_close(f, &err));
  for (int i = 0; i < SESSIONS_PER_THREAD; ++i) {
    void* tr = NULL;
    size_t len = 0;
    EXPECT_OK(ringlm_session_transcript(mine[i], RINGLM_FORMAT_JSON, &tr, &len, &err));
    CHECK(json_array_len((char*)tr, "messages") == 1 + 2 * g_turns);
    ringlm_buffer_free(tr);
    EXPECT_OK(ringlm_session_close(mine[i], &err));
    /* The handle stays in g_handles: the canceller now gets NOT_FOUND. */
  }
  atomic_fetch_sub(&g_running, 1);
  return NULL;
}

static void* canceller(void* arg) {
  (void)arg;
  unsigned seed = 12345;
  while (atomic_load(&g_running) > 0) {
    const int k = (int)(rand_r(&seed) % (unsigned)(g_threads * SESSIONS_PER_THREAD));
    ringlm_session* s = atomic_load(&g_handles[k]);
    if (s) {
      ringlm_error* err = NULL;
      ringlm_status st = ringlm_session_cancel(s, &err);
      CHECK(st == RINGLM_STATUS_OK || st == RINGLM_STATUS_NOT_FOUND);
      ringlm_error_free(err);
      atomic_fetch_add(&g_cancel_calls, 1);
    }
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

int main(void) {
  g_threads = env_int("RINGLM_CAPI_THREADS", 4);
  g_turns = env_int("RINGLM_CAPI_TURNS", 2);
  CHECK(g_threads >= 1 && g_threads <= MAX_THREADS && g_turns >= 1);
  {
    /* Prefix sharing from a low threshold: the sessions' system prompts
     * ("You are assistant N.") share their first tokens, so first turns copy
     * other sessions' KV while those sessions run turns of their own. */
    strbuf cfg = engine_json(2, 16);
    cfg.data[--cfg.len] = '\0'; /* the closing brace */
    sb_puts(&cfg, ", \"share_prefix_min_tokens\": 4}");
    EXPECT_OK(ringlm_engine_create(cfg.data, cfg.len, RINGLM_FORMAT_JSON, &g_engine, &err));
    sb_free(&cfg);
  }
  atomic_store(&g_running, g_threads);
  pthread_t hosts[MAX_THREADS], cancel_thread;
  CHECK(pthread_create(&cancel_thread, NULL, canceller, NULL) == 0);
  for (int t = 0; t < g_threads; ++t)
    CHECK(pthread_create(&hosts[t], NULL, host_thread, (void*)(intptr_t)t) == 0);
  for (int t = 0; t < g_threads; ++t) CHECK(pthread_join(hosts[t], NULL) == 0);
  CHECK(pthread_join(cancel_thread, NULL) == 0);
  const int requests = g_threads * (SESSIONS_PER_THREAD * g_turns + 1); /* + the forks' turns */
  CHECK(atomic_load(&g_done_events) == requests);
  CHECK(atomic_load(&g_shared) > 0); /* some first turn started from another session's KV */
  EXPECT_OK(ringlm_engine_destroy(g_engine, &err));
  printf("capi_threads_test: OK (%d threads, %d requests, %d cancelled, %d cancel calls, "
         "%d shared a prefix)\n",
         g_threads, requests, atomic_load(&g_cancelled), atomic_load(&g_cancel_calls),
         atomic_load(&g_shared));
  return 0;
}
