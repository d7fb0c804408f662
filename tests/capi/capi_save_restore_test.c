/* Save and restore through the C ABI on 2 CP ranks: a restored session gives
 * exactly the logits and greedy tokens the original gives, reuses its KV
 * (nothing is prefilled again), and damaged files are refused with the
 * documented status; a close waits for a save another thread runs. Plain C. */
#include <pthread.h>
#include <time.h>

#include "capi_test_util.h"

static ringlm_engine* g_engine;

typedef struct {
  ringlm_session* session;
  const char* path;
  int saved;            /* saves that returned OK */
  ringlm_status last;   /* the status that ended the loop */
} saver_state;

/* Saves the session until a save fails (the session got closed). */
static void* saver(void* arg) {
  saver_state* st = (saver_state*)arg;
  for (;;) {
    ringlm_error* e = NULL;
    st->last = ringlm_session_save(st->session, st->path, &e);
    ringlm_error_free(e);
    if (st->last != RINGLM_STATUS_OK) return NULL;
    st->saved++;
  }
}

static uint8_t* read_file(const char* path, size_t* len) {
  FILE* f = fopen(path, "rb");
  CHECK(f != NULL);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t* data = (uint8_t*)malloc((size_t)n);
  CHECK(fread(data, 1, (size_t)n, f) == (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return data;
}

static void write_file(const char* path, const uint8_t* data, size_t len) {
  FILE* f = fopen(path, "wb");
  CHECK(f != NULL);
  CHECK(fwrite(data, 1, len, f) == len);
  fclose(f);
}

/* XXH64 with seed 0 (the published algorithm), for the checksum of format 3. */
static uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static uint64_t read64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static uint64_t xxh64(const uint8_t* p, size_t n) {
  const uint64_t P1 = 0x9E3779B185EBCA87ull, P2 = 0xC2B2AE3D27D4EB4Full,
                 P3 = 0x165667B19E3779F9ull, P4 = 0x85EBCA77C2B2AE63ull,
                 P5 = 0x27D4EB2F165667C5ull;
  const uint8_t* end = p + n;
  uint64_t h;
  if (n >= 32) {
    uint64_t v[4] = {P1 + P2, P2, 0, 0 - P1};
    for (; end - p >= 32; p += 32)
      for (int i = 0; i < 4; ++i) v[i] = rotl64(v[i] + read64(p + 8 * i) * P2, 31) * P1;
    h = rotl64(v[0], 1) + rotl64(v[1], 7) + rotl64(v[2], 12) + rotl64(v[3], 18);
    for (int i = 0; i < 4; ++i) h = (h ^ (rotl64(v[i] * P2, 31) * P1)) * P1 + P4;
  } else {
    h = P5;
  }
  h += (uint64_t)n;
  for (; end - p >= 8; p += 8) h = rotl64(h ^ (rotl64(read64(p) * P2, 31) * P1), 27) * P1 + P4;
  if (end - p >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    h = rotl64(h ^ ((uint64_t)w * P1), 23) * P2 + P3;
    p += 4;
  }
  for (; p < end; ++p) h = rotl64(h ^ ((uint64_t)*p * P5), 11) * P1;
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

/* Makes an edited session file well-formed again (engine/runtime/session_file.h):
 * the last 8 bytes are the checksum of all before them, XXH64 in format 3
 * (what the engine writes), byte-wise FNV-1a 64 in formats 1 and 2. */
static void fix_checksum(uint8_t* data, size_t len) {
  uint32_t version;
  memcpy(&version, data + 8, 4);
  uint64_t h = 1469598103934665603ull;
  if (version >= 3) {
    h = xxh64(data, len - 8);
  } else {
    for (size_t i = 0; i + 8 < len; ++i) h = (h ^ data[i]) * 1099511628211ull;
  }
  memcpy(data + len - 8, &h, 8);
}

/* The file relabelled as format version 2, which differs from 3 only in its
 * checksum. */
static void as_version_2(uint8_t* data, size_t len) {
  const uint32_t v2 = 2;
  memcpy(data + 8, &v2, 4);
  fix_checksum(data, len);
}

static ringlm_status restore_status(const char* path) {
  ringlm_session* s = (ringlm_session*)0x1;
  ringlm_error* err = NULL;
  ringlm_status st = ringlm_session_restore(g_engine, path, &s, &err);
  CHECK((st == RINGLM_STATUS_OK) == (s != NULL));
  if (st != RINGLM_STATUS_OK) CHECK(err && strlen(ringlm_error_message(err)) > 0);
  ringlm_error_free(err);
  if (s) EXPECT_OK(ringlm_session_close(s, &err));
  return st;
}

/* Greedy continuation of `ids` with the prompt logits; returns the Done event as JSON. */
static char* continue_with(ringlm_session* s, const int32_t* ids, size_t n) {
  strbuf req = {0};
  sb_puts(&req, "{\"tokens\": [");
  for (size_t i = 0; i < n; ++i) sb_printf(&req, "%s%d", i ? ", " : "", ids[i]);
  sb_puts(&req, "], \"max_tokens\": 4, \"want_prompt_logits\": true}");
  EXPECT_OK(ringlm_session_generate(s, req.data, req.len, RINGLM_FORMAT_JSON, &err));
  sb_free(&req);
  char* done = drain(s, RINGLM_FORMAT_JSON, NULL, NULL);
  CHECK(json_string_is(done, "kind", "Done"));
  return done;
}

/* The text of the value at `path` (an array), for exact comparison. */
static char* value_text(const char* json, const char* path) {
  const char* v = json_find(json, path);
  CHECK(v != NULL);
  const char* end = json_skip(v);
  CHECK(end != NULL);
  return strndup(v, (size_t)(end - v));
}

int main(void) {
  g_engine = open_engine(2, 64);
  const char* dir = test_temp_dir("capi_save_restore");
  char path[4200], damaged[4200];
  snprintf(path, sizeof path, "%s/session.rlss", dir);
  snprintf(damaged, sizeof damaged, "%s/damaged.rlss", dir);

  /* A session with one turn behind it. */
  ringlm_session* a = NULL;
  const char* cfg = "{\"system_prompt\": \"You remember names.\"}";
  EXPECT_OK(ringlm_session_create(g_engine, cfg, strlen(cfg), RINGLM_FORMAT_JSON, &a, &err));
  strbuf req = chat_json("My name is Ada.", 4);
  EXPECT_OK(ringlm_session_chat(a, req.data, req.len, RINGLM_FORMAT_JSON, &err));
  free(drain(a, RINGLM_FORMAT_JSON, NULL, NULL));
  sb_free(&req);
  EXPECT_OK(ringlm_session_save(a, path, &err));

  /* Restore it as a second session: same transcript. */
  ringlm_session* b = NULL;
  EXPECT_OK(ringlm_session_restore(g_engine, path, &b, &err));
  CHECK(b != NULL && b != a);
  void* ta = NULL;
  void* tb = NULL;
  size_t la = 0, lb = 0;
  EXPECT_OK(ringlm_session_transcript(a, RINGLM_FORMAT_JSON, &ta, &la, &err));
  EXPECT_OK(ringlm_session_transcript(b, RINGLM_FORMAT_JSON, &tb, &lb, &err));
  CHECK(la == lb && memcmp(ta, tb, la) == 0);
  const int64_t history = json_int((char*)ta, "token_count", 0);
  CHECK(history > 10);
  ringlm_buffer_free(ta);
  ringlm_buffer_free(tb);

  /* The same continuation on both: identical logits and tokens, and the
   * restored KV is reused rather than rebuilt. */
  int32_t* ids = NULL;
  size_t n = 0;
  const char* more = " What is my name?";
  EXPECT_OK(ringlm_engine_tokenize(g_engine, more, strlen(more), 0, &ids, &n, &err));
  char* da = continue_with(a, ids, n);
  char* db = continue_with(b, ids, n);
  ringlm_buffer_free(ids);
  CHECK(json_int(da, "response.stats.cached_tokens", -1) == history);
  CHECK(json_int(db, "response.stats.cached_tokens", -1) == history);
  CHECK(json_bool(db, "response.stats.rebuilt") == 0);
  char* la_text = value_text(da, "response.prompt_logits");
  char* lb_text = value_text(db, "response.prompt_logits");
  CHECK(strlen(la_text) > 1000);
  CHECK(strcmp(la_text, lb_text) == 0);
  char* ka = value_text(da, "response.tokens");
  char* kb = value_text(db, "response.tokens");
  CHECK(strcmp(ka, kb) == 0);
  free(la_text);
  free(lb_text);
  free(ka);
  free(kb);
  free(da);
  free(db);
  EXPECT_OK(ringlm_session_close(b, &err));

  /* Damaged files. */
  size_t len = 0;
  uint8_t* file = read_file(path, &len);
  CHECK(len > 64);
  uint8_t* copy = (uint8_t*)malloc(len);

  memcpy(copy, file, len);
  copy[len / 2] ^= 0x5A; /* a flipped byte anywhere: checksum */
  write_file(damaged, copy, len);
  CHECK(restore_status(damaged) == RINGLM_STATUS_CORRUPT_DATA);

  write_file(damaged, file, len - 100); /* truncated */
  CHECK(restore_status(damaged) == RINGLM_STATUS_CORRUPT_DATA);

  write_file(damaged, file, 0); /* empty */
  CHECK(restore_status(damaged) == RINGLM_STATUS_CORRUPT_DATA);

  memcpy(copy, file, len);
  memcpy(copy, "NOTRINGL", 8); /* bad magic */
  write_file(damaged, copy, len);
  CHECK(restore_status(damaged) == RINGLM_STATUS_CORRUPT_DATA);

  memcpy(copy, file, len);
  fix_checksum(copy, len); /* the checksum as the engine wrote it */
  CHECK(memcmp(copy, file, len) == 0);

  memcpy(copy, file, len);
  as_version_2(copy, len); /* unchanged, relabelled as format version 2: still read */
  write_file(damaged, copy, len);
  CHECK(restore_status(damaged) == RINGLM_STATUS_OK);

  memcpy(copy, file, len);
  copy[8] = 99; /* another format version */
  fix_checksum(copy, len);
  write_file(damaged, copy, len);
  CHECK(restore_status(damaged) == RINGLM_STATUS_UNSUPPORTED);

  /* Another model: the fingerprint follows magic, version and the engine
   * version string (u64 length + bytes). */
  memcpy(copy, file, len);
  uint64_t vlen = 0;
  memcpy(&vlen, copy + 12, 8);
  CHECK(vlen < 64);
  copy[12 + 8 + vlen] ^= 0x01;
  fix_checksum(copy, len);
  write_file(damaged, copy, len);
  CHECK(restore_status(damaged) == RINGLM_STATUS_INVALID_ARGUMENT);

  /* A lying length inside a well-checksummed file. */
  memcpy(copy, file, len);
  const uint64_t huge = (uint64_t)1 << 50;
  memcpy(copy + 12, &huge, 8);
  fix_checksum(copy, len);
  write_file(damaged, copy, len);
  CHECK(restore_status(damaged) == RINGLM_STATUS_CORRUPT_DATA);
  free(copy);
  free(file);

  /* Files that are not there, and paths that cannot be written. */
  char missing[4200];
  snprintf(missing, sizeof missing, "%s/missing.rlss", dir);
  remove(missing);
  CHECK(restore_status(missing) == RINGLM_STATUS_NOT_FOUND);
  ringlm_session* s = NULL;
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_restore(g_engine, "", &s, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_restore(g_engine, NULL, &s, &err));
  EXPECT_STATUS(RINGLM_STATUS_INVALID_ARGUMENT, ringlm_session_restore(g_engine, path, NULL, &err));
  EXPECT_STATUS(RINGLM_STATUS_IO_ERROR,
                ringlm_session_save(a, "/nonexistent-dir/x/session.rlss", &err));

  /* A fresh session (no KV yet) saves and restores too. */
  ringlm_session* empty = NULL;
  EXPECT_OK(ringlm_session_create(g_engine, NULL, 0, RINGLM_FORMAT_JSON, &empty, &err));
  EXPECT_OK(ringlm_session_save(empty, path, &err));
  EXPECT_OK(ringlm_session_close(empty, &err));
  CHECK(restore_status(path) == RINGLM_STATUS_OK);

  /* Closing while another thread saves the session waits for the save: the
   * close succeeds (the handle is gone), the saver sees NOT_FOUND. */
  char busy_path[4200];
  snprintf(busy_path, sizeof busy_path, "%s/busy.rlss", dir);
  for (int round = 0; round < 10; ++round) {
    ringlm_session* c = NULL;
    EXPECT_OK(ringlm_session_restore(g_engine, path, &c, &err));
    saver_state st = {c, busy_path, 0, RINGLM_STATUS_OK};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, saver, &st) == 0);
    const struct timespec pause = {0, 2000000 * (round % 3)};
    nanosleep(&pause, NULL);
    EXPECT_OK(ringlm_session_close(c, &err));
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(st.last == RINGLM_STATUS_NOT_FOUND);
  }

  EXPECT_OK(ringlm_session_close(a, &err));
  EXPECT_OK(ringlm_engine_destroy(g_engine, &err));
  printf("capi_save_restore_test: OK\n");
  return 0;
}
