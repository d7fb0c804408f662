/* Helpers for the C ABI tests (plain C11, header only): checks, the model
 * path, small request builders and a minimal reader for the library's JSON
 * output. */
#ifndef RINGLM_TESTS_CAPI_TEST_UTIL_H_
#define RINGLM_TESTS_CAPI_TEST_UTIL_H_

#include <ringlm/ringlm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SKIP_RETURN_CODE 77

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

/* Expects `call` (a ringlm function whose last argument is &err) to return
 * `want`; prints the message otherwise. Frees the error. */
#define EXPECT_STATUS(want, call)                                                                \
  do {                                                                                           \
    ringlm_error* err = NULL;                                                                    \
    ringlm_status got_ = (call);                                                                 \
    if (got_ != (want)) {                                                                        \
      fprintf(stderr, "%s:%d: %s\n  returned %s (%s), expected %s\n", __FILE__, __LINE__, #call, \
              ringlm_status_name(got_), ringlm_error_message(err), ringlm_status_name(want));    \
      exit(1);                                                                                   \
    }                                                                                            \
    if (got_ != RINGLM_STATUS_OK) {                                                              \
      CHECK(err != NULL);                                                                        \
      CHECK(ringlm_error_status(err) == got_);                                                   \
      CHECK(strlen(ringlm_error_message(err)) > 0);                                              \
    } else {                                                                                     \
      CHECK(err == NULL);                                                                        \
    }                                                                                            \
    ringlm_error_free(err);                                                                      \
  } while (0)

#define EXPECT_OK(call) EXPECT_STATUS(RINGLM_STATUS_OK, call)

/* $RINGLM_MODEL, else ~/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf;
 * exits with 77 (skipped) when the file is absent. */
static inline const char* test_model_path(void) {
  static char path[4096];
  const char* env = getenv("RINGLM_MODEL");
  if (env && *env) {
    snprintf(path, sizeof path, "%s", env);
  } else {
    const char* home = getenv("HOME");
    snprintf(path, sizeof path, "%s/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf",
             home ? home : ".");
  }
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "SKIP: model %s not found (scripts/fetch_model.sh)\n", path);
    exit(SKIP_RETURN_CODE);
  }
  return path;
}

/* A temporary directory for this test's files: $RINGLM_BINARY_DIR/tmp/<name>
 * (or /tmp/ringlm-capi-<name>), created if needed. */
static inline const char* test_temp_dir(const char* name) {
  static char dir[4096];
  const char* bin = getenv("RINGLM_BINARY_DIR");
  if (bin && *bin) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/tmp", bin);
    mkdir(tmp, 0755);
    snprintf(dir, sizeof dir, "%s/tmp/%s", bin, name);
  } else {
    snprintf(dir, sizeof dir, "/tmp/ringlm-capi-%s", name);
  }
  mkdir(dir, 0755);
  return dir;
}

/* ------------------------------------------------------------------------
 * A growable string
 * ------------------------------------------------------------------------ */

typedef struct {
  char* data;
  size_t len, cap;
} strbuf;

static inline void sb_append(strbuf* sb, const char* s, size_t n) {
  if (sb->len + n + 1 > sb->cap) {
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + n + 1) cap *= 2;
    sb->data = (char*)realloc(sb->data, cap);
    CHECK(sb->data != NULL);
    sb->cap = cap;
  }
  memcpy(sb->data + sb->len, s, n);
  sb->len += n;
  sb->data[sb->len] = '\0';
}

static inline void sb_puts(strbuf* sb, const char* s) { sb_append(sb, s, strlen(s)); }

static inline void sb_printf(strbuf* sb, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char* tmp = (char*)malloc((size_t)n + 1);
  CHECK(tmp != NULL);
  vsnprintf(tmp, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  sb_append(sb, tmp, (size_t)n);
  free(tmp);
}

/* Appends `s` as a JSON string literal. */
static inline void sb_json_string(strbuf* sb, const char* s) {
  sb_puts(sb, "\"");
  for (const unsigned char* p = (const unsigned char*)s; *p; ++p) {
    if (*p == '"' || *p == '\\') {
      char esc[2] = {'\\', (char)*p};
      sb_append(sb, esc, 2);
    } else if (*p < 0x20) {
      sb_printf(sb, "\\u%04x", *p);
    } else {
      sb_append(sb, (const char*)p, 1);
    }
  }
  sb_puts(sb, "\"");
}

static inline void sb_free(strbuf* sb) {
  free(sb->data);
  sb->data = NULL;
  sb->len = sb->cap = 0;
}

/* ------------------------------------------------------------------------
 * Reading the library's JSON (objects, arrays, strings, numbers, literals)
 * ------------------------------------------------------------------------ */

static inline const char* json_ws(const char* p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') ++p;
  return p;
}

/* Returns the end of the value starting at p (NULL if malformed). */
static inline const char* json_skip(const char* p) {
  p = json_ws(p);
  if (*p == '"') {
    for (++p; *p && *p != '"'; ++p)
      if (*p == '\\' && p[1]) ++p;
    return *p == '"' ? p + 1 : NULL;
  }
  if (*p == '{' || *p == '[') {
    const char close = *p == '{' ? '}' : ']';
    p = json_ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
      if (close == '}') {
        p = json_skip(p); /* key */
        if (!p) return NULL;
        p = json_ws(p);
        if (*p != ':') return NULL;
        ++p;
      }
      p = json_skip(p);
      if (!p) return NULL;
      p = json_ws(p);
      if (*p == ',') {
        p = json_ws(p + 1);
        continue;
      }
      return *p == close ? p + 1 : NULL;
    }
  }
  while (*p && *p != ',' && *p != '}' && *p != ']' && *p != ' ') ++p;
  return p;
}

/* The value at a dotted path of object keys ("response.stats.variant"), or NULL. */
static inline const char* json_find(const char* json, const char* path) {
  const char* p = json_ws(json);
  while (*path) {
    const char* dot = strchr(path, '.');
    size_t klen = dot ? (size_t)(dot - path) : strlen(path);
    if (*p != '{') return NULL;
    p = json_ws(p + 1);
    const char* found = NULL;
    while (*p == '"') {
      const char* kstart = p + 1;
      const char* kend = json_skip(p);
      if (!kend) return NULL;
      p = json_ws(kend);
      if (*p != ':') return NULL;
      p = json_ws(p + 1);
      if ((size_t)(kend - 1 - kstart) == klen && strncmp(kstart, path, klen) == 0) {
        found = p;
        break;
      }
      p = json_skip(p);
      if (!p) return NULL;
      p = json_ws(p);
      if (*p == ',') p = json_ws(p + 1);
    }
    if (!found) return NULL;
    p = found;
    path = dot ? dot + 1 : path + klen;
  }
  return p;
}

static inline int64_t json_int(const char* json, const char* path, int64_t def) {
  const char* v = json_find(json, path);
  return v ? strtoll(v, NULL, 10) : def;
}

/* 1 for true, 0 for false, -1 when absent or not a boolean. */
static inline int json_bool(const char* json, const char* path) {
  const char* v = json_find(json, path);
  if (v && strncmp(v, "true", 4) == 0) return 1;
  if (v && strncmp(v, "false", 5) == 0) return 0;
  return -1;
}

static inline double json_double(const char* json, const char* path, double def) {
  const char* v = json_find(json, path);
  return v ? strtod(v, NULL) : def;
}

/* Decodes the JSON string at `path` into a new malloc'd string (NULL if absent). */
static inline char* json_string(const char* json, const char* path) {
  const char* p = json_find(json, path);
  if (!p || *p != '"') return NULL;
  strbuf sb = {0};
  sb_puts(&sb, "");
  for (++p; *p && *p != '"'; ++p) {
    if (*p != '\\') {
      sb_append(&sb, p, 1);
      continue;
    }
    ++p;
    char c = *p;
    if (c == 'n')
      c = '\n';
    else if (c == 't')
      c = '\t';
    else if (c == 'r')
      c = '\r';
    else if (c == 'b')
      c = '\b';
    else if (c == 'f')
      c = '\f';
    else if (c == 'u') {
      unsigned cp = (unsigned)strtoul((char[]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
      p += 4;
      if (cp >= 0xD800 && cp < 0xDC00 && p[1] == '\\' && p[2] == 'u') {
        unsigned lo = (unsigned)strtoul((char[]){p[3], p[4], p[5], p[6], 0}, NULL, 16);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
      }
      char u[4];
      size_t n;
      if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
      } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
      } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
      } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
      }
      sb_append(&sb, u, n);
      continue;
    }
    sb_append(&sb, &c, 1);
  }
  return sb.data;
}

/* Whether the JSON string at `path` equals `want`. */
static inline int json_string_is(const char* json, const char* path, const char* want) {
  char* s = json_string(json, path);
  int eq = s && strcmp(s, want) == 0;
  free(s);
  return eq;
}

/* Number of elements of the JSON array at `path` (-1 if absent). */
static inline int64_t json_array_len(const char* json, const char* path) {
  const char* p = json_find(json, path);
  if (!p || *p != '[') return -1;
  p = json_ws(p + 1);
  if (*p == ']') return 0;
  int64_t n = 0;
  for (;;) {
    p = json_skip(p);
    if (!p) return -1;
    ++n;
    p = json_ws(p);
    if (*p != ',') return n;
    p = json_ws(p + 1);
  }
}

/* ------------------------------------------------------------------------
 * Requests and events
 * ------------------------------------------------------------------------ */

/* A ChatRequest with one user message, greedy, as JSON (free with sb_free). */
static inline strbuf chat_json(const char* user, int max_tokens) {
  strbuf sb = {0};
  sb_puts(&sb, "{\"messages\": [{\"role\": \"User\", \"content\": ");
  sb_json_string(&sb, user);
  sb_printf(&sb, "}], \"max_tokens\": %d}", max_tokens);
  return sb;
}

/* The binary FlatBuffer of a JSON message (ringlm_buffer_free). */
static inline void* to_flatbuffer(int32_t message, const char* json, size_t* len) {
  void* out = NULL;
  EXPECT_OK(ringlm_message_convert(message, json, strlen(json), RINGLM_FORMAT_JSON,
                                   RINGLM_FORMAT_FLATBUFFERS, &out, len, &err));
  return out;
}

/* The JSON text of a binary message (ringlm_buffer_free). */
static inline char* to_json(int32_t message, const void* fb, size_t len) {
  void* out = NULL;
  size_t out_len = 0;
  EXPECT_OK(ringlm_message_convert(message, fb, len, RINGLM_FORMAT_FLATBUFFERS, RINGLM_FORMAT_JSON,
                                   &out, &out_len, &err));
  CHECK(strlen((char*)out) == out_len);
  return (char*)out;
}

/* Pulls the events of the request in flight (given in `format`) until the
 * terminal one, appending Text pieces to *text (may be NULL) and counting
 * Progress events. Returns the terminal event as JSON (free()). */
typedef struct {
  int text_events;
  int progress_events;
  int64_t last_done, last_total;
} event_counts;

static inline char* drain(ringlm_session* s, int32_t format, strbuf* text, event_counts* counts) {
  for (;;) {
    void* ev = NULL;
    size_t len = 0;
    EXPECT_OK(ringlm_session_next_event(s, 60000, &ev, &len, &err));
    CHECK(ev != NULL);
    char* json;
    if (format == RINGLM_FORMAT_FLATBUFFERS) {
      CHECK(((uintptr_t)ev & 7) == 0);
      char* j = to_json(RINGLM_MESSAGE_EVENT, ev, len);
      json = strdup(j);
      ringlm_buffer_free(j);
    } else {
      CHECK(strlen((char*)ev) == len);
      json = strdup((char*)ev);
    }
    ringlm_buffer_free(ev);
    char* kind = json_string(json, "kind");
    CHECK(kind != NULL);
    if (strcmp(kind, "Text") == 0) {
      if (counts) counts->text_events++;
      char* piece = json_string(json, "text");
      if (text && piece) sb_append(text, piece, strlen(piece));
      free(piece);
    } else if (strcmp(kind, "Progress") == 0) {
      if (counts) {
        counts->progress_events++;
        counts->last_done = json_int(json, "prefill_done", -1);
        counts->last_total = json_int(json, "prefill_total", -1);
      }
    } else {
      CHECK(strcmp(kind, "Done") == 0 || strcmp(kind, "Error") == 0);
      free(kind);
      return json;
    }
    free(kind);
    free(json);
  }
}

/* An EngineConfig as JSON. */
static inline strbuf engine_json(int world_size, int prefill_chunk) {
  strbuf sb = {0};
  sb_puts(&sb, "{\"model_path\": ");
  sb_json_string(&sb, test_model_path());
  /* One compute thread per rank: the tests run on small shared machines,
   * where oversubscribed OpenMP threads only slow each other down. */
  sb_printf(&sb, ", \"world_size\": %d, \"prefill_chunk\": %d, \"threads_per_rank\": 1}",
            world_size, prefill_chunk);
  return sb;
}

static inline ringlm_engine* open_engine(int world_size, int prefill_chunk) {
  strbuf cfg = engine_json(world_size, prefill_chunk);
  ringlm_engine* e = NULL;
  EXPECT_OK(ringlm_engine_create(cfg.data, cfg.len, RINGLM_FORMAT_JSON, &e, &err));
  CHECK(e != NULL);
  sb_free(&cfg);
  return e;
}

#endif /* RINGLM_TESTS_CAPI_TEST_UTIL_H_ */
