/* Editing conversations through the C ABI on 2 CP ranks, with the default
 * model: regenerating a reply after ringlm_session_rewind, raw rewinds,
 * forking a session with its KV, and the errors of all three. Plain C. */
#include "capi_test_util.h"

static ringlm_engine* g_engine;

/* One greedy chat turn, pulled to its Done event (JSON, the caller frees). */
static char* chat_turn(ringlm_session* s, const char* user, int max_tokens) {
  strbuf req = chat_json(user, max_tokens);
  EXPECT_OK(ringlm_session_chat(s, req.data, req.len, RINGLM_FORMAT_JSON, &err));
  sb_free(&req);
  char* done = drain(s, RINGLM_FORMAT_JSON, NULL, NULL);
  CHECK(json_string_is(done, "kind", "Done"));
  return done;
}

static int64_t transcript_int(ringlm_session* s, const char* what) {
  void* t = NULL;
  size_t len = 0;
  EXPECT_OK(ringlm_session_transcript(s, RINGLM_FORMAT_JSON, &t, &len, &err));
  const int64_t v = strcmp(what, "messages") == 0 ? json_array_len((const char*)t, "messages")
                                                  : json_int((const char*)t, what, -1);
  ringlm_buffer_free(t);
  return v;
}

static int same_string(const char* a_json, const char* b_json, const char* path) {
  char* a = json_string(a_json, path);
  char* b = json_string(b_json, path);
  const int same = a && b && strcmp(a, b) == 0;
  free(a);
  free(b);
  return same;
}

static void test_regenerate(void) {
  ringlm_session* s = NULL;
  EXPECT_OK(ringlm_session_create(g_engine, NULL, 0, RINGLM_FORMAT_JSON, &s, &err));
  free(chat_turn(s, "What is the capital of France?", 8));
  char* first = chat_turn(s, "And of Italy?", 8);
  CHECK(transcript_int(s, "messages") == 4);
  const int64_t history = transcript_int(s, "token_count");

  /* Drop the last exchange, ask again: the same reply from the cached prefix. */
  EXPECT_OK(ringlm_session_rewind(s, 2, &err));
  CHECK(transcript_int(s, "messages") == 2);
  CHECK(transcript_int(s, "token_count") < history);
  char* again = chat_turn(s, "And of Italy?", 8);
  CHECK(same_string(first, again, "response.text"));
  CHECK(json_int(again, "response.stats.cached_tokens", 0) > 10);
  CHECK(json_int(again, "response.stats.cached_tokens", 0) +
            json_int(again, "response.stats.new_tokens", 0) ==
        json_int(first, "response.stats.cached_tokens", 0) +
            json_int(first, "response.stats.new_tokens", 0));
  CHECK(transcript_int(s, "messages") == 4);
  free(first);
  free(again);

  /* Bad counts change nothing. */
  EXPECT_STATUS(RINGLM_STATUS_OUT_OF_RANGE, ringlm_session_rewind(s, 5, &err));
  EXPECT_STATUS(RINGLM_STATUS_OUT_OF_RANGE, ringlm_session_rewind(s, -1, &err));
  EXPECT_STATUS(RINGLM_STATUS_OUT_OF_RANGE, ringlm_session_rewind_tokens(s, -1, &err));
  EXPECT_STATUS(RINGLM_STATUS_OUT_OF_RANGE,
                ringlm_session_rewind_tokens(s, transcript_int(s, "token_count") + 1, &err));
  CHECK(transcript_int(s, "messages") == 4);

  /* Not while a request is in flight (its Done not pulled yet). */
  strbuf req = chat_json("And of Spain?", 2);
  EXPECT_OK(ringlm_session_chat(s, req.data, req.len, RINGLM_FORMAT_JSON, &err));
  sb_free(&req);
  ringlm_session* f = NULL;
  EXPECT_STATUS(RINGLM_STATUS_FAILED_PRECONDITION, ringlm_session_rewind(s, 0, &err));
  EXPECT_STATUS(RINGLM_STATUS_FAILED_PRECONDITION, ringlm_session_rewind_tokens(s, 0, &err));
  EXPECT_STATUS(RINGLM_STATUS_FAILED_PRECONDITION, ringlm_session_fork(s, &f, &err));
  CHECK(f == NULL);
  free(drain(s, RINGLM_FORMAT_JSON, NULL, NULL));

  /* Raw rewind to nothing: the next request starts afresh. */
  EXPECT_OK(ringlm_session_rewind_tokens(s, 0, &err));
  CHECK(transcript_int(s, "token_count") == 0);
  CHECK(transcript_int(s, "messages") == 6); /* the transcript is not changed */
  EXPECT_OK(ringlm_session_close(s, &err));
}

static void test_fork(void) {
  ringlm_session* s = NULL;
  const char* cfg = "{\"system_prompt\": \"You are terse.\"}";
  EXPECT_OK(ringlm_session_create(g_engine, cfg, strlen(cfg), RINGLM_FORMAT_JSON, &s, &err));
  free(chat_turn(s, "Name a fruit.", 6));

  ringlm_session* f = NULL;
  EXPECT_OK(ringlm_session_fork(s, &f, &err));
  CHECK(f != NULL && f != s);
  CHECK(transcript_int(f, "messages") == 3);
  CHECK(transcript_int(f, "token_count") == transcript_int(s, "token_count"));

  /* Both branches answer alike, each from its own KV. */
  char* a = chat_turn(s, "Another one?", 6);
  char* b = chat_turn(f, "Another one?", 6);
  CHECK(same_string(a, b, "response.text"));
  CHECK(json_int(b, "response.stats.cached_tokens", -1) ==
        json_int(a, "response.stats.cached_tokens", -2));
  CHECK(json_int(b, "response.stats.cached_tokens", 0) > 10);
  CHECK(json_bool(b, "response.stats.rebuilt") == 0);
  free(a);
  free(b);

  /* Closing the original leaves the fork whole. */
  EXPECT_OK(ringlm_session_close(s, &err));
  char* c = chat_turn(f, "And a vegetable?", 4);
  CHECK(json_int(c, "response.stats.cached_tokens", 0) > 10);
  free(c);
  CHECK(transcript_int(f, "messages") == 7);

  ringlm_session* g = (ringlm_session*)1;
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_fork(f, NULL, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_fork(NULL, &g, &err));
  CHECK(g == NULL);
  EXPECT_OK(ringlm_session_close(f, &err));
  g = (ringlm_session*)1;
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_fork(f, &g, &err));
  CHECK(g == NULL);
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_rewind(f, 0, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_rewind_tokens(f, 0, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_rewind(NULL, 0, &err));
}

int main(void) {
  g_engine = open_engine(2, 16);
  test_regenerate();
  test_fork();
  EXPECT_OK(ringlm_engine_destroy(g_engine, &err));
  printf("capi_session_edit_test: OK\n");
  return 0;
}
