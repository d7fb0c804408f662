/* The C ABI without a model running: versions, status names, errors and
 * buffers, message conversion and every way a message can be bad, engine
 * configuration errors, and the handle checks. Plain C. */
#include <pthread.h>
#include <unistd.h>

#include "capi_test_util.h"

static const char* const kMinimalJson[] = {
    NULL,
    "{\"model_path\": \"m.gguf\"}",                                        /* EngineConfig */
    "{\"system_prompt\": \"Be brief.\"}",                                  /* SessionConfig */
    "{\"messages\": [{\"role\": \"User\", \"content\": \"hi\"}]}",         /* ChatRequest */
    "{\"tokens\": [1, 2, 3], \"want_prompt_logits\": true}",               /* GenerateRequest */
    "{\"kind\": \"Progress\", \"prefill_done\": 3, \"prefill_total\": 9}", /* Event */
    "{\"text\": \"hello\", \"finish_reason\": \"Length\"}",                /* ChatResponse */
    "{\"version\": \"0.1.0\", \"world_size\": 2}",                         /* EngineInfo */
    "{\"messages\": [], \"token_count\": 0}",                              /* Transcript */
};
static const char* const kIdentifiers[] = {NULL,   "RLEC", "RLSC", "RLCQ", "RLGQ",
                                           "RLEV", "RLCR", "RLEI", "RLTR"};

static void test_versions(void) {
  CHECK(strcmp(ringlm_version(), RINGLM_VERSION) == 0);
  CHECK(ringlm_abi_version() == RINGLM_ABI_VERSION);
  CHECK(RINGLM_VERSION_NUMBER ==
        RINGLM_VERSION_MAJOR * 1000000 + RINGLM_VERSION_MINOR * 1000 + RINGLM_VERSION_PATCH);
  static const char* const names[] = {"OK",           "INVALID_ARGUMENT",   "NOT_FOUND",
                                      "OUT_OF_RANGE", "CORRUPT_DATA",       "UNSUPPORTED",
                                      "IO_ERROR",     "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED",
                                      "UNAVAILABLE",  "CANCELLED",          "FAILED_PRECONDITION",
                                      "INTERNAL"};
  for (int i = 0; i <= RINGLM_STATUS_INTERNAL; ++i)
    CHECK(strcmp(ringlm_status_name(i), names[i]) == 0);
  CHECK(strcmp(ringlm_status_name(13), "UNKNOWN") == 0);
  CHECK(strcmp(ringlm_status_name(-1), "UNKNOWN") == 0);
  CHECK(ringlm_error_status(NULL) == RINGLM_STATUS_OK);
  CHECK(strcmp(ringlm_error_message(NULL), "") == 0);
  ringlm_error_free(NULL);
  ringlm_buffer_free(NULL);
}

static void test_convert_round_trips(void) {
  for (int32_t m = RINGLM_MESSAGE_ENGINE_CONFIG; m <= RINGLM_MESSAGE_TRANSCRIPT; ++m) {
    size_t len = 0;
    uint8_t* fb = (uint8_t*)to_flatbuffer(m, kMinimalJson[m], &len);
    CHECK(len >= 8 && ((uintptr_t)fb & 7) == 0);
    CHECK(memcmp(fb + 4, kIdentifiers[m], 4) == 0);
    /* FlatBuffers -> JSON -> FlatBuffers gives the same JSON again. */
    char* json = to_json(m, fb, len);
    size_t len2 = 0;
    void* fb2 = to_flatbuffer(m, json, &len2);
    char* json2 = to_json(m, fb2, len2);
    CHECK(strcmp(json, json2) == 0);
    /* Same format in and out: a verified copy. */
    void* copy = NULL;
    size_t copy_len = 0;
    EXPECT_OK(ringlm_message_convert(m, fb, len, RINGLM_FORMAT_FLATBUFFERS,
                                     RINGLM_FORMAT_FLATBUFFERS, &copy, &copy_len, &err));
    CHECK(copy_len == len && memcmp(copy, fb, len) == 0);
    ringlm_buffer_free(copy);
    /* An unaligned input is fine: the library copies before reading. */
    uint8_t* odd = (uint8_t*)malloc(len + 1);
    memcpy(odd + 1, fb, len);
    EXPECT_OK(ringlm_message_convert(m, odd + 1, len, RINGLM_FORMAT_FLATBUFFERS, RINGLM_FORMAT_JSON,
                                     &copy, &copy_len, &err));
    CHECK(strcmp((char*)copy, json) == 0);
    free(odd);
    ringlm_buffer_free(copy);
    ringlm_buffer_free(fb);
    ringlm_buffer_free(fb2);
    ringlm_buffer_free(json);
    ringlm_buffer_free(json2);
  }
  /* JSON output spells defaults: an empty ChatRequest shows max_tokens 256. */
  size_t len = 0;
  void* fb = to_flatbuffer(RINGLM_MESSAGE_CHAT_REQUEST, "{}", &len);
  char* json = to_json(RINGLM_MESSAGE_CHAT_REQUEST, fb, len);
  CHECK(json_int(json, "max_tokens", -1) == 256);
  CHECK(json_string_is(json, "variant", "Auto"));
  ringlm_buffer_free(json);
  ringlm_buffer_free(fb);
  /* Unknown JSON fields are ignored, as a binary reader ignores newer fields. */
  fb = to_flatbuffer(RINGLM_MESSAGE_SESSION_CONFIG,
                     "{\"system_prompt\": \"x\", \"from_the_future\": [1]}", &len);
  ringlm_buffer_free(fb);
  /* Non-ASCII text survives both ways. */
  fb = to_flatbuffer(RINGLM_MESSAGE_SESSION_CONFIG,
                     "{\"system_prompt\": \"caf\\u00e9 \xe2\x82\xac\"}", &len);
  json = to_json(RINGLM_MESSAGE_SESSION_CONFIG, fb, len);
  CHECK(json_string_is(json, "system_prompt", "caf\xc3\xa9 \xe2\x82\xac"));
  ringlm_buffer_free(json);
  ringlm_buffer_free(fb);
  /* Control characters come back escaped: no raw NUL or ESC in JSON text. */
  fb = to_flatbuffer(RINGLM_MESSAGE_SESSION_CONFIG,
                     "{\"system_prompt\": \"a\\u0000b\\u001bc\\td\"}", &len);
  void* out = NULL;
  size_t out_len = 0;
  EXPECT_OK(ringlm_message_convert(RINGLM_MESSAGE_SESSION_CONFIG, fb, len,
                                   RINGLM_FORMAT_FLATBUFFERS, RINGLM_FORMAT_JSON, &out, &out_len,
                                   &err));
  CHECK(strlen((char*)out) == out_len);
  CHECK(strstr((char*)out, "a\\u0000b\\u001bc\\td") != NULL);
  size_t len2 = 0;
  void* fb2 = to_flatbuffer(RINGLM_MESSAGE_SESSION_CONFIG, (char*)out, &len2);
  CHECK(len2 == len && memcmp(fb2, fb, len) == 0); /* and read back as they were */
  ringlm_buffer_free(fb2);
  ringlm_buffer_free(out);
  ringlm_buffer_free(fb);
}

static ringlm_status convert_status(int32_t m, const void* in, size_t len, int32_t in_format) {
  void* out = NULL;
  size_t out_len = 0;
  ringlm_error* err = NULL;
  ringlm_status st =
      ringlm_message_convert(m, in, len, in_format, RINGLM_FORMAT_JSON, &out, &out_len, &err);
  CHECK((st == RINGLM_STATUS_OK) == (out != NULL));
  CHECK((st == RINGLM_STATUS_OK) == (err == NULL));
  CHECK(ringlm_error_status(err) == st);
  ringlm_buffer_free(out);
  ringlm_error_free(err);
  return st;
}

static void test_bad_messages(void) {
  const int32_t chat = RINGLM_MESSAGE_CHAT_REQUEST;
  size_t len = 0;
  uint8_t* fb = (uint8_t*)to_flatbuffer(chat, kMinimalJson[chat], &len);
  void* out = NULL;
  size_t out_len = 0;

  /* Arguments. */
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_message_convert(0, fb, len, 0, 1, &out, &out_len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_message_convert(99, fb, len, 0, 1, &out, &out_len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_message_convert(chat, fb, len, 7, 1, &out, &out_len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_message_convert(chat, fb, len, 0, -1, &out, &out_len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_message_convert(chat, NULL, len, 0, 1, &out, &out_len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_message_convert(chat, fb, len, 0, 1, NULL, &out_len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_message_convert(chat, fb, len, 0, 1, &out, NULL, &err));
  /* err may be NULL: the status alone comes back. */
  CHECK(ringlm_message_convert(chat, NULL, len, 0, 1, &out, &out_len, NULL) ==
        RINGLM_STATUS_INVALID_ARGUMENT);

  /* Oversized: refused before a byte is read (the length is a lie). */
  EXPECT_STATUS(
      RINGLM_STATUS_OUT_OF_RANGE,
      ringlm_message_convert(chat, fb, RINGLM_MAX_MESSAGE_BYTES + 1, 0, 1, &out, &out_len, &err));
  EXPECT_STATUS(RINGLM_STATUS_OUT_OF_RANGE,
                ringlm_message_convert(chat, "{}", (size_t)-1, 1, 0, &out, &out_len, &err));

  /* Truncated: every prefix is refused or (trailing padding only) still
   * valid; nothing crashes. The short ones are surely refused. */
  for (size_t n = 0; n < len; ++n) {
    uint8_t* cut = (uint8_t*)malloc(n ? n : 1);
    memcpy(cut, fb, n);
    ringlm_status st = convert_status(chat, cut, n, RINGLM_FORMAT_FLATBUFFERS);
    CHECK(st == RINGLM_STATUS_OK || st == RINGLM_STATUS_CORRUPT_DATA);
    if (n < len / 2) CHECK(st == RINGLM_STATUS_CORRUPT_DATA);
    free(cut);
  }

  /* Wrong identifier: another ringlm message is INVALID_ARGUMENT, anything
   * else CORRUPT_DATA. */
  size_t ec_len = 0;
  void* ec = to_flatbuffer(RINGLM_MESSAGE_ENGINE_CONFIG, kMinimalJson[1], &ec_len);
  CHECK(convert_status(chat, ec, ec_len, RINGLM_FORMAT_FLATBUFFERS) ==
        RINGLM_STATUS_INVALID_ARGUMENT);
  ringlm_buffer_free(ec);
  uint8_t* bad_id = (uint8_t*)malloc(len);
  memcpy(bad_id, fb, len);
  memcpy(bad_id + 4, "XXXX", 4);
  CHECK(convert_status(chat, bad_id, len, RINGLM_FORMAT_FLATBUFFERS) == RINGLM_STATUS_CORRUPT_DATA);

  /* Malformed: a root offset pointing outside, and random bytes behind a
   * valid identifier. */
  memcpy(bad_id, fb, len);
  bad_id[0] = 0xF0;
  bad_id[1] = 0xFF;
  CHECK(convert_status(chat, bad_id, len, RINGLM_FORMAT_FLATBUFFERS) == RINGLM_STATUS_CORRUPT_DATA);
  free(bad_id);
  srand(7);
  int refused = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    uint8_t junk[96];
    for (size_t i = 0; i < sizeof junk; ++i) junk[i] = (uint8_t)rand();
    memcpy(junk + 4, "RLCQ", 4);
    ringlm_status st = convert_status(chat, junk, sizeof junk, RINGLM_FORMAT_FLATBUFFERS);
    CHECK(st == RINGLM_STATUS_OK || st == RINGLM_STATUS_CORRUPT_DATA);
    refused += st == RINGLM_STATUS_CORRUPT_DATA;
  }
  CHECK(refused > 1900);
  /* Flipped bytes of a valid buffer: never a crash. */
  for (size_t i = 0; i < len; ++i) {
    uint8_t* flip = (uint8_t*)malloc(len);
    memcpy(flip, fb, len);
    flip[i] ^= 0xFF;
    ringlm_status st = convert_status(chat, flip, len, RINGLM_FORMAT_FLATBUFFERS);
    /* UNSUPPORTED: a flipped string byte is no longer UTF-8, which JSON
     * output cannot carry. */
    if (!(st == RINGLM_STATUS_OK || st == RINGLM_STATUS_CORRUPT_DATA ||
          st == RINGLM_STATUS_INVALID_ARGUMENT || st == RINGLM_STATUS_UNSUPPORTED)) {
      fprintf(stderr, "flipped byte %zu: %s\n", i, ringlm_status_name(st));
      exit(1);
    }
    free(flip);
  }

  /* JSON that does not parse against the schema. */
  static const char* const bad_json[] = {
      "",
      "{",
      "not json",
      "{\"messages\": 5}",
      "{\"messages\": [{\"role\": \"Robot\"}]}",
      "{\"max_tokens\": \"many\"}",
      "[1, 2, 3]",
      "table Evil { x: int; }",
      "{\"max_tokens\": 1} trailing",
  };
  for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; ++i) {
    ringlm_status st = convert_status(chat, bad_json[i], strlen(bad_json[i]), RINGLM_FORMAT_JSON);
    if (st != RINGLM_STATUS_CORRUPT_DATA) {
      fprintf(stderr, "bad JSON %s: %s\n", bad_json[i], ringlm_status_name(st));
      exit(1);
    }
  }
  CHECK(convert_status(chat, "{}\0{}", 5, RINGLM_FORMAT_JSON) == RINGLM_STATUS_CORRUPT_DATA);
  /* Deep nesting is refused, not a stack overflow. */
  strbuf deep = {0};
  for (int i = 0; i < 5000; ++i) sb_puts(&deep, "{\"sampling\": ");
  CHECK(convert_status(chat, deep.data, deep.len, RINGLM_FORMAT_JSON) ==
        RINGLM_STATUS_CORRUPT_DATA);
  sb_free(&deep);
  ringlm_buffer_free(fb);
}

static void test_engine_config_errors(void) {
  ringlm_engine* e = (ringlm_engine*)0x1;
  const char* model = test_model_path();
  const char* cfg = "{\"model_path\": \"/nonexistent/model.gguf\"}";
  /* Arguments. */
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_engine_create(cfg, strlen(cfg), RINGLM_FORMAT_JSON, NULL, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_engine_create(NULL, 10, RINGLM_FORMAT_JSON, &e, &err));
  CHECK(e == NULL); /* *out is cleared on failure */
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_engine_create(cfg, strlen(cfg), 5, &e, &err));
  EXPECT_STATUS(RINGLM_STATUS_OUT_OF_RANGE, ringlm_engine_create(cfg, RINGLM_MAX_MESSAGE_BYTES + 1,
                                                                 RINGLM_FORMAT_JSON, &e, &err));
  EXPECT_STATUS(RINGLM_STATUS_CORRUPT_DATA,
                ringlm_engine_create("{model_path", 11, RINGLM_FORMAT_JSON, &e, &err));
  EXPECT_STATUS(RINGLM_STATUS_CORRUPT_DATA,
                ringlm_engine_create("abcdefgh", 8, RINGLM_FORMAT_FLATBUFFERS, &e, &err));
  /* Values. */
  static const char* const invalid[] = {
      "{}",
      "{\"model_path\": \"\"}",
      "{\"model_path\": \"m\", \"world_size\": 0}",
      "{\"model_path\": \"m\", \"world_size\": 2000}",
      "{\"model_path\": \"m\", \"rank\": 1}",
      "{\"model_path\": \"m\", \"world_size\": 2, \"rank\": 2, \"rendezvous\": \"/tmp/x\"}",
      "{\"model_path\": \"m\", \"world_size\": 2, \"rank\": 1, \"rendezvous\": \"/tmp/x\"}",
      "{\"model_path\": \"m\", \"prefill_chunk\": -1}",
      "{\"model_path\": \"m\", \"comm_timeout_ms\": -5}",
      "{\"model_path\": \"m\", \"leader_timeout_ms\": 150}",
      "{\"model_path\": \"m\", \"leader_timeout_ms\": -1}",
      "{\"model_path\": \"m\", \"cp_variant\": 9}",
      "{\"model_path\": \"m\", \"decode_variant\": 3}",
      "{\"model_path\": \"m\", \"kv_cache_type\": 7}",
      "{\"model_path\": \"m\", \"attn_flops\": -1}",
      "{\"model_path\": \"m\", \"devices\": [\"tpu\"]}",
      "{\"model_path\": \"m\", \"world_size\": 2, \"devices\": [\"cpu\"]}",
  };
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; ++i) {
    ringlm_error* err = NULL;
    ringlm_status st =
        ringlm_engine_create(invalid[i], strlen(invalid[i]), RINGLM_FORMAT_JSON, &e, &err);
    if (st != RINGLM_STATUS_INVALID_ARGUMENT) {
      fprintf(stderr, "%s: %s (%s)\n", invalid[i], ringlm_status_name(st),
              ringlm_error_message(err));
      exit(1);
    }
    ringlm_error_free(err);
  }
  /* Device lists the engine cannot run: mixed, or CUDA ranks out of order. */
  const char* mixed = "{\"model_path\": \"m\", \"world_size\": 2, \"devices\": [\"cpu\", \"cuda:0\"]}";
  EXPECT_STATUS(RINGLM_STATUS_UNSUPPORTED,
                ringlm_engine_create(mixed, strlen(mixed), RINGLM_FORMAT_JSON, &e, &err));
  const char* gap = "{\"model_path\": \"m\", \"world_size\": 2, \"devices\": [\"cuda:0\", \"cuda:2\"]}";
  EXPECT_STATUS(RINGLM_STATUS_UNSUPPORTED,
                ringlm_engine_create(gap, strlen(gap), RINGLM_FORMAT_JSON, &e, &err));
  /* The model file. */
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND,
                ringlm_engine_create(cfg, strlen(cfg), RINGLM_FORMAT_JSON, &e, &err));
  char path[4200];
  snprintf(path, sizeof path, "%s/not_a_model.gguf", test_temp_dir("capi_api"));
  FILE* f = fopen(path, "wb");
  CHECK(f != NULL);
  for (int i = 0; i < 1000; ++i) fputs("this is not a GGUF file\n", f);
  fclose(f);
  strbuf bad = {0};
  sb_puts(&bad, "{\"model_path\": ");
  sb_json_string(&bad, path);
  sb_puts(&bad, "}");
  EXPECT_STATUS(RINGLM_STATUS_CORRUPT_DATA,
                ringlm_engine_create(bad.data, bad.len, RINGLM_FORMAT_JSON, &e, &err));
  sb_free(&bad);
  (void)model;
  /* ringlm_engine_serve is for ranks >= 1 of a multi-process group. */
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_engine_serve(cfg, strlen(cfg), RINGLM_FORMAT_JSON, &err));
  const char* rank0 = "{\"model_path\": \"m\", \"world_size\": 2, \"rendezvous\": \"/tmp/x\"}";
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_engine_serve(rank0, strlen(rank0), RINGLM_FORMAT_JSON, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_engine_serve(NULL, 0, RINGLM_FORMAT_JSON, &err));
}

/* Every handle-taking function: NULL is INVALID_ARGUMENT (close and destroy:
 * a no-op), an unknown handle NOT_FOUND. */
static void test_handles(void) {
  ringlm_engine* forged_e = (ringlm_engine*)(uintptr_t)0x7f0000001000ull;
  ringlm_session* forged_s = (ringlm_session*)(uintptr_t)0x7f0000001000ull;
  void* out = NULL;
  size_t len = 0;
  int32_t* toks = NULL;
  char* text = NULL;
  ringlm_session* s = NULL;
  const char* req = kMinimalJson[RINGLM_MESSAGE_CHAT_REQUEST];
  const int32_t one = 1;

  EXPECT_OK(ringlm_engine_destroy(NULL, &err));
  EXPECT_OK(ringlm_session_close(NULL, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_engine_info(NULL, 0, &out, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_engine_tokenize(NULL, "a", 1, 0, &toks, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_engine_detokenize(NULL, &one, 1, &text, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_create(NULL, NULL, 0, 0, &s, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_restore(NULL, "/tmp/x", &s, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_session_chat(NULL, req, strlen(req), 1, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_session_generate(NULL, req, strlen(req), 1, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_session_next_event(NULL, 0, &out, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_cancel(NULL, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT,
                ringlm_session_transcript(NULL, 0, &out, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_save(NULL, "/tmp/x", &err));

  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_engine_destroy(forged_e, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_close(forged_s, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_engine_info(forged_e, 0, &out, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND,
                ringlm_engine_tokenize(forged_e, "a", 1, 0, &toks, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND,
                ringlm_engine_detokenize(forged_e, &one, 1, &text, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_create(forged_e, NULL, 0, 0, &s, &err));
  CHECK(s == NULL);
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_restore(forged_e, "/tmp/x", &s, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_chat(forged_s, req, strlen(req), 1, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND,
                ringlm_session_generate(forged_s, req, strlen(req), 1, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_next_event(forged_s, 0, &out, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_cancel(forged_s, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_transcript(forged_s, 0, &out, &len, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND, ringlm_session_save(forged_s, "/tmp/x", &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND,
                ringlm_session_chat_stream(forged_s, req, strlen(req), 1, NULL, NULL, &err));
  EXPECT_STATUS(RINGLM_STATUS_NOT_FOUND,
                ringlm_session_generate_stream(forged_s, req, strlen(req), 1, NULL, NULL, &err));
  CHECK(out == NULL && toks == NULL && text == NULL);
}

int main(void) {
  test_versions();
  test_convert_round_trips();
  test_bad_messages();
  test_handles();
  test_engine_config_errors();
  printf("capi_api_test: OK\n");
  return 0;
}
