/* Sessions through the C ABI on 2 CP ranks: pull streaming in both formats,
 * multi-turn KV reuse, transcripts, the callback variant, raw generation
 * with prompt logits, tokenizer calls, engine info, and every request error
 * reported by the call itself. Plain C. */
#include "capi_test_util.h"

static ringlm_engine* g_engine;

static void test_engine_info(void) {
  void* out = NULL;
  size_t len = 0;
  EXPECT_OK(ringlm_engine_info(g_engine, RINGLM_FORMAT_JSON, &out, &len, &err));
  const char* info = (const char*)out;
  CHECK(json_string_is(info, "version", ringlm_version()));
  CHECK(json_int(info, "abi_version", -1) == RINGLM_ABI_VERSION);
  CHECK(json_int(info, "world_size", -1) == 2);
  CHECK(json_int(info, "model.vocab", 0) > 1000);
  CHECK(json_int(info, "model.context_length", 0) >= 2048);
  CHECK(json_string_is(info, "backend", "cpu"));
  CHECK(json_string_is(info, "kv_cache_type", "f32")); /* Auto on CPU ranks */
  ringlm_buffer_free(out);
  EXPECT_OK(ringlm_engine_info(g_engine, RINGLM_FORMAT_FLATBUFFERS, &out, &len, &err));
  CHECK(memcmp((char*)out + 4, "RLEI", 4) == 0);
  ringlm_buffer_free(out);
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_engine_info(g_engine, 3, &out, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_engine_info(g_engine, 0, NULL, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_engine_info(g_engine, 0, &out, NULL, &err));
}

static void test_tokenizer(void) {
  int32_t* ids = NULL;
  size_t n = 0;
  const char* text = "Hello world, caf\xc3\xa9!";
  EXPECT_OK(ringlm_engine_tokenize(g_engine, text, strlen(text), 0, &ids, &n, &err));
  CHECK(n > 2 && ids != NULL);
  char* back = NULL;
  size_t back_len = 0;
  EXPECT_OK(ringlm_engine_detokenize(g_engine, ids, n, &back, &back_len, &err));
  CHECK(back_len == strlen(text) && strcmp(back, text) == 0);
  ringlm_buffer_free(back);
  ringlm_buffer_free(ids);
  /* Empty text: no tokens, no buffer. */
  EXPECT_OK(ringlm_engine_tokenize(g_engine, NULL, 0, 0, &ids, &n, &err));
  CHECK(n == 0 && ids == NULL);
  EXPECT_OK(ringlm_engine_detokenize(g_engine, NULL, 0, &back, &back_len, &err));
  CHECK(back_len == 0 && back != NULL && back[0] == '\0');
  ringlm_buffer_free(back);
  const int32_t bad[] = {1, 1 << 30};
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_engine_detokenize(g_engine, bad, 2, &back, &back_len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_engine_detokenize(g_engine, NULL, 2, &back, &back_len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_engine_tokenize(g_engine, NULL, 3, 0, &ids, &n, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_engine_tokenize(g_engine, "a", 1, 0, NULL, &n, &err));
  EXPECT_STATUS(
      RINGLM_STATUS_OUT_OF_RANGE,
      ringlm_engine_tokenize(g_engine, "a", RINGLM_MAX_MESSAGE_BYTES + 1, 0, &ids, &n, &err));
}

/* Turn 1 in JSON, turn 2 in FlatBuffers, both pulled; the transcript after. */
static void test_pull_turns(void) {
  ringlm_session* s = NULL;
  const char* cfg = "{\"system_prompt\": \"You are terse.\"}";
  EXPECT_OK(ringlm_session_create(g_engine, cfg, strlen(cfg), RINGLM_FORMAT_JSON, &s, &err));
  CHECK(s != NULL);
  void* ev = NULL;
  size_t len = 0;
  EXPECT_STATUS(RINGLM_STATUS_FAILED_PRECONDITION,
                ringlm_session_next_event(s, 0, &ev, &len, &err));

  strbuf req = chat_json("Name a color.", 4);
  EXPECT_OK(ringlm_session_chat(s, req.data, req.len, RINGLM_FORMAT_JSON, &err));
  /* One request at a time; idle-only calls wait for the end. */
  EXPECT_STATUS(RINGLM_STATUS_FAILED_PRECONDITION,
                ringlm_session_chat(s, req.data, req.len, RINGLM_FORMAT_JSON, &err));
  EXPECT_STATUS(RINGLM_STATUS_FAILED_PRECONDITION,
                ringlm_session_transcript(s, RINGLM_FORMAT_JSON, &ev, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_FAILED_PRECONDITION, ringlm_session_save(s, "/tmp/never", &err));
  /* Polling with a zero timeout works too (NULL until an event is ready). */
  int polls = 0;
  do {
    EXPECT_OK(ringlm_session_next_event(s, 0, &ev, &len, &err));
    ++polls;
  } while (ev == NULL);
  CHECK(json_string_is((char*)ev, "kind", "Progress"));
  CHECK(json_int((char*)ev, "prefill_total", 0) > 16); /* prefill_chunk 16: several steps */
  ringlm_buffer_free(ev);

  strbuf text = {0};
  sb_puts(&text, "");
  event_counts counts = {0};
  char* done = drain(s, RINGLM_FORMAT_JSON, &text, &counts);
  CHECK(json_string_is(done, "kind", "Done"));
  CHECK(counts.progress_events >= 1 && counts.last_done == counts.last_total);
  char* reply = json_string(done, "response.text");
  CHECK(reply && strcmp(reply, text.data) == 0);
  char* fr = json_string(done, "response.finish_reason");
  CHECK(strcmp(fr, "Length") == 0 || strcmp(fr, "Stop") == 0);
  const int64_t generated = json_int(done, "response.stats.generated_tokens", -1);
  CHECK(generated >= 1 && generated <= 4);
  CHECK(json_array_len(done, "response.tokens") == generated);
  CHECK(json_int(done, "response.stats.world_size", 0) == 2);
  CHECK(json_int(done, "response.stats.cached_tokens", -1) == 0);
  CHECK(json_int(done, "response.stats.new_tokens", 0) > 16);
  CHECK(json_array_len(done, "response.stats.kv_tokens") == 2);
  CHECK(json_array_len(done, "response.stats.bytes_sent") == 2);
  CHECK(json_array_len(done, "response.stats.kv_bytes") == 2);
  {
    const char* kvb = json_find(done, "response.stats.kv_bytes");  /* "[b0, b1]" */
    CHECK(kvb != NULL && kvb[0] == '[' && strtoll(kvb + 1, NULL, 10) > 0);
  }
  CHECK(json_string_is(done, "response.stats.variant", "pass-kv") ||
        json_string_is(done, "response.stats.variant", "pass-q"));
  CHECK(json_int(done, "response.stats.evictions", -1) == 0);
  free(fr);
  free(reply);
  free(done);
  sb_free(&req);
  /* The terminal event was pulled: nothing is in flight. */
  EXPECT_STATUS(RINGLM_STATUS_FAILED_PRECONDITION,
                ringlm_session_next_event(s, 100, &ev, &len, &err));

  /* Turn 2 in binary: only the new tokens are prefilled. */
  req = chat_json("And another one?", 3);
  size_t fb_len = 0;
  void* fb = to_flatbuffer(RINGLM_MESSAGE_CHAT_REQUEST, req.data, &fb_len);
  EXPECT_OK(ringlm_session_chat(s, fb, fb_len, RINGLM_FORMAT_FLATBUFFERS, &err));
  ringlm_buffer_free(fb);
  done = drain(s, RINGLM_FORMAT_FLATBUFFERS, NULL, NULL);
  CHECK(json_string_is(done, "kind", "Done"));
  CHECK(json_int(done, "response.stats.cached_tokens", 0) > 16);
  free(done);
  sb_free(&req);

  /* The transcript: system, user, assistant, user, assistant. */
  EXPECT_OK(ringlm_session_transcript(s, RINGLM_FORMAT_JSON, &ev, &len, &err));
  const char* t = (const char*)ev;
  CHECK(json_array_len(t, "messages") == 5);
  CHECK(json_int(t, "token_count", 0) > 30);
  CHECK(strstr(t, "\"role\": \"System\"") && strstr(t, "You are terse."));
  CHECK(strstr(t, "Name a color.") && strstr(t, "And another one?"));
  ringlm_buffer_free(ev);
  EXPECT_OK(ringlm_session_transcript(s, RINGLM_FORMAT_FLATBUFFERS, &ev, &len, &err));
  CHECK(memcmp((char*)ev + 4, "RLTR", 4) == 0);
  ringlm_buffer_free(ev);
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_transcript(s, 9, &ev, &len, &err));
  EXPECT_OK(ringlm_session_close(s, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_close(s, &err));
}

typedef struct {
  int events, texts, stop_after_texts;
  int saw_done;
  int32_t format;
} stream_state;

static int32_t on_event(void* user, const void* event, size_t len) {
  stream_state* st = (stream_state*)user;
  CHECK(event != NULL && len > 0);
  char* json = st->format == RINGLM_FORMAT_JSON ? strdup((const char*)event)
                                                : to_json(RINGLM_MESSAGE_EVENT, event, len);
  st->events++;
  if (json_string_is(json, "kind", "Text")) st->texts++;
  if (json_string_is(json, "kind", "Done")) {
    st->saw_done = 1;
    if (st->stop_after_texts) CHECK(json_string_is(json, "response.finish_reason", "Cancelled"));
  }
  if (st->format == RINGLM_FORMAT_JSON) {
    free(json);
  } else {
    ringlm_buffer_free(json);
  }
  return st->stop_after_texts && st->texts >= st->stop_after_texts;
}

static void test_callbacks(void) {
  ringlm_session* s = NULL;
  EXPECT_OK(ringlm_session_create(g_engine, NULL, 0, RINGLM_FORMAT_JSON, &s, &err));
  strbuf req = chat_json("Hi!", 3);
  stream_state st = {0, 0, 0, 0, RINGLM_FORMAT_JSON};
  EXPECT_OK(
      ringlm_session_chat_stream(s, req.data, req.len, RINGLM_FORMAT_JSON, on_event, &st, &err));
  CHECK(st.saw_done && st.events >= 2);
  /* While a *_stream call runs nobody else pulls events; after it, nothing is in flight. */
  void* ev = NULL;
  size_t len = 0;
  EXPECT_STATUS(RINGLM_STATUS_FAILED_PRECONDITION,
                ringlm_session_next_event(s, 0, &ev, &len, &err));
  sb_free(&req);
  /* A callback returning non-zero cancels: Done with Cancelled. */
  req = chat_json("Count from one to fifty.", 40);
  size_t fb_len = 0;
  void* fb = to_flatbuffer(RINGLM_MESSAGE_CHAT_REQUEST, req.data, &fb_len);
  stream_state st2 = {0, 0, 1, 0, RINGLM_FORMAT_FLATBUFFERS};
  EXPECT_OK(
      ringlm_session_chat_stream(s, fb, fb_len, RINGLM_FORMAT_FLATBUFFERS, on_event, &st2, &err));
  CHECK(st2.saw_done && st2.texts >= 1 && st2.texts < 40);
  EXPECT_STATUS(
      RINGLM_STATUS_INVALID_ARGUMENT,
      ringlm_session_chat_stream(s, fb, fb_len, RINGLM_FORMAT_FLATBUFFERS, NULL, NULL, &err));
  ringlm_buffer_free(fb);
  sb_free(&req);
  /* generate_stream with an error: the status comes back with the message. */
  const char* gen =
      "{\"tokens\": [1, 2], \"max_tokens\": 1, \"sampling\": {\"temperature\": 0.5, \"top_p\": "
      "0.9}}";
  stream_state st3 = {0, 0, 0, 0, RINGLM_FORMAT_JSON};
  EXPECT_OK(ringlm_session_generate_stream(s, gen, strlen(gen), RINGLM_FORMAT_JSON, on_event, &st3,
                                           &err));
  CHECK(st3.saw_done);
  EXPECT_OK(ringlm_session_close(s, &err));
}

static void test_generate(void) {
  ringlm_session* s = NULL;
  EXPECT_OK(ringlm_session_create(g_engine, NULL, 0, RINGLM_FORMAT_FLATBUFFERS, &s, &err));
  int32_t* ids = NULL;
  size_t n = 0;
  EXPECT_OK(ringlm_engine_tokenize(g_engine, "The capital of France is", 24, 1, &ids, &n, &err));
  strbuf req = {0};
  sb_puts(&req, "{\"tokens\": [");
  for (size_t i = 0; i < n; ++i) sb_printf(&req, "%s%d", i ? ", " : "", ids[i]);
  sb_puts(&req, "], \"max_tokens\": 2, \"want_prompt_logits\": true, \"top_logprobs\": 3}");
  ringlm_buffer_free(ids);
  size_t fb_len = 0;
  void* fb = to_flatbuffer(RINGLM_MESSAGE_GENERATE_REQUEST, req.data, &fb_len);
  EXPECT_OK(ringlm_session_generate(s, fb, fb_len, RINGLM_FORMAT_FLATBUFFERS, &err));
  char* done = drain(s, RINGLM_FORMAT_FLATBUFFERS, NULL, NULL);
  void* info = NULL;
  size_t info_len = 0;
  EXPECT_OK(ringlm_engine_info(g_engine, RINGLM_FORMAT_JSON, &info, &info_len, &err));
  CHECK(json_array_len(done, "response.prompt_logits") == json_int((char*)info, "model.vocab", -1));
  CHECK(json_array_len(done, "response.tokens") == 2);
  /* A log-probability per token, each with its 3 likeliest alternatives. */
  CHECK(json_array_len(done, "response.logprobs") == 2);
  {
    const char* lp = json_find(done, "response.logprobs"); /* "[{...}, {...}]" */
    CHECK(lp != NULL && lp[0] == '[');
    CHECK(json_array_len(lp + 1, "top_tokens") == 3);  /* the first entry's */
    CHECK(json_array_len(lp + 1, "top_logprobs") == 3);
    CHECK(json_double(lp + 1, "logprob", 1.0) <= 0.0);
  }
  ringlm_buffer_free(info);
  free(done);
  ringlm_buffer_free(fb);
  sb_free(&req);

  /* Request errors from generate itself. */
  static const char* const invalid[] = {
      "{}",
      "{\"tokens\": []}",
      "{\"tokens\": [-1]}",
      "{\"tokens\": [1073741824]}",
      "{\"tokens\": [1], \"max_tokens\": -1}",
      "{\"tokens\": [1], \"variant\": 7}",
      "{\"tokens\": [1], \"top_logprobs\": 21}",
      "{\"tokens\": [1], \"top_logprobs\": -1}",
  };
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; ++i)
    EXPECT_STATUS(
        RINGLM_STATUS_INVALID_ARGUMENT,
        ringlm_session_generate(s, invalid[i], strlen(invalid[i]), RINGLM_FORMAT_JSON, &err));
  EXPECT_OK(ringlm_session_close(s, &err));
}

static void test_request_errors(void) {
  ringlm_session* s = NULL;
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_session_create(g_engine, NULL, 0, 0, NULL, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_session_create(g_engine, NULL, 5, 0, &s, &err));
  EXPECT_STATUS(RINGLM_STATUS_CORRUPT_DATA, ringlm_session_create(g_engine, "{", 1, 1, &s, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_session_create(g_engine, "{}", 2, 4, &s, &err));
  EXPECT_OK(ringlm_session_create(g_engine, NULL, 0, RINGLM_FORMAT_JSON, &s, &err));

  static const char* const invalid[] = {
      "{}",
      "{\"messages\": []}",
      "{\"messages\": [{\"role\": 9, \"content\": \"x\"}]}",
      "{\"messages\": [{\"content\": \"x\"}], \"max_tokens\": -1}",
      "{\"messages\": [{\"content\": \"x\"}], \"sampling\": {\"temperature\": -1}}",
      "{\"messages\": [{\"content\": \"x\"}], \"sampling\": {\"top_p\": 0}}",
      "{\"messages\": [{\"content\": \"x\"}], \"sampling\": {\"top_k\": -3}}",
      "{\"messages\": [{\"content\": \"x\"}], \"sampling\": {\"repetition_penalty\": 0}}",
      "{\"messages\": [{\"content\": \"x\"}], \"variant\": 3}",
  };
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; ++i) {
    ringlm_error* err = NULL;
    ringlm_status st =
        ringlm_session_chat(s, invalid[i], strlen(invalid[i]), RINGLM_FORMAT_JSON, &err);
    if (st != RINGLM_STATUS_INVALID_ARGUMENT) {
      fprintf(stderr, "%s: %s (%s)\n", invalid[i], ringlm_status_name(st),
              ringlm_error_message(err));
      exit(1);
    }
    ringlm_error_free(err);
  }
  strbuf req = chat_json("x", 1);
  size_t len = 0;
  uint8_t* fb = (uint8_t*)to_flatbuffer(RINGLM_MESSAGE_CHAT_REQUEST, req.data, &len);
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_chat(s, NULL, len, 0, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_chat(s, fb, len, 2, &err));
  EXPECT_STATUS(RINGLM_STATUS_CORRUPT_DATA, ringlm_session_chat(s, fb, len / 2, 0, &err));
  EXPECT_STATUS(RINGLM_STATUS_CORRUPT_DATA, ringlm_session_chat(s, fb, 5, 0, &err));
  EXPECT_STATUS(RINGLM_STATUS_OUT_OF_RANGE,
                ringlm_session_chat(s, fb, RINGLM_MAX_MESSAGE_BYTES + 1, 0, &err));
  EXPECT_STATUS(RINGLM_STATUS_CORRUPT_DATA,
                ringlm_session_chat(s, fb, len, RINGLM_FORMAT_JSON, &err));
  /* A GenerateRequest where a ChatRequest belongs, and the other way round. */
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_generate(s, fb, len, 0, &err));
  size_t glen = 0;
  void* gen = to_flatbuffer(RINGLM_MESSAGE_GENERATE_REQUEST, "{\"tokens\": [1]}", &glen);
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_chat(s, gen, glen, 0, &err));
  memcpy((uint8_t*)gen + 4, "ZZZZ", 4);
  EXPECT_STATUS(RINGLM_STATUS_CORRUPT_DATA, ringlm_session_generate(s, gen, glen, 0, &err));
  ringlm_buffer_free(gen);
  /* None of these started a request. */
  void* ev = NULL;
  EXPECT_STATUS(RINGLM_STATUS_FAILED_PRECONDITION,
                ringlm_session_next_event(s, 0, &ev, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_next_event(s, 0, NULL, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_next_event(s, 0, &ev, NULL, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_save(s, NULL, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_save(s, "", &err));
  ringlm_buffer_free(fb);
  sb_free(&req);
  /* A session handle is not an engine handle, nor the other way round. */
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_engine_info((ringlm_engine*)s, 0, &ev, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_cancel((ringlm_session*)g_engine, &err));
  EXPECT_OK(ringlm_session_close(s, &err));
  /* Closed: every call says NOT_FOUND. */
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_chat(s, "{}", 2, 1, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_cancel(s, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_next_event(s, 0, &ev, &len, &err));
}

int main(void) {
  g_engine = open_engine(2, 16);
  test_engine_info();
  test_tokenizer();
  test_request_errors();
  test_pull_turns();
  test_callbacks();
  test_generate();
  EXPECT_OK(ringlm_engine_destroy(g_engine, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_engine_destroy(g_engine, &err));
  printf("capi_session_test: OK\n");
  return 0;
}
