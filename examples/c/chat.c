/* A multi-turn chat with ringlm from plain C, no FlatBuffers runtime needed:
 * requests are written and events read in the JSON form of the schemas.
 *
 *   cc chat.c $(pkg-config --cflags --libs ringlm) -o chat
 *   ./chat [--model PATH] [--cp N] [--max-tokens N] [--system TEXT]
 *
 * One user message per line on stdin; each reply streams to stdout as it is
 * generated, followed by a line of statistics on stderr. */
#include <ringlm/ringlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growable string ---- */
typedef struct {
  char* s;
  size_t len, cap;
} buf;

static void put(buf* b, const char* s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->s = realloc(b->s, b->cap);
    if (!b->s) abort();
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}
static void puts_(buf* b, const char* s) { put(b, s, strlen(s)); }

/* Appends s as a JSON string literal. */
static void put_json_string(buf* b, const char* s) {
  puts_(b, "\"");
  for (; *s; ++s) {
    unsigned char c = (unsigned char)*s;
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c;
      put(b, esc, 2);
    } else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      puts_(b, esc);
    } else {
      put(b, (const char*)&c, 1);
    }
  }
  puts_(b, "\"");
}

/* ---- reading the library's JSON: just enough for events ---- */
static const char* ws(const char* p) {
  while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') ++p;
  return p;
}

static const char* skip_value(const char* p) {
  p = ws(p);
  if (*p == '"') {
    for (++p; *p && *p != '"'; ++p)
      if (*p == '\\' && p[1]) ++p;
    return *p ? p + 1 : p;
  }
  if (*p == '{' || *p == '[') {
    int depth = 0;
    for (; *p; ++p) {
      if (*p == '"') {
        p = skip_value(p) - 1;
      } else if (*p == '{' || *p == '[') {
        ++depth;
      } else if ((*p == '}' || *p == ']') && --depth == 0) {
        return p + 1;
      }
    }
    return p;
  }
  while (*p && *p != ',' && *p != '}' && *p != ']') ++p;
  return p;
}

/* The value of key `key` in the object at p (one level), or NULL. */
static const char* find_key(const char* p, const char* key) {
  p = ws(p);
  if (*p != '{') return NULL;
  p = ws(p + 1);
  const size_t klen = strlen(key);
  while (*p == '"') {
    const char* k = p + 1;
    const char* kend = skip_value(p);
    const char* v = ws(ws(kend) + 1); /* past ':' */
    if ((size_t)(kend - 1 - k) == klen && strncmp(k, key, klen) == 0) return v;
    p = ws(skip_value(v));
    if (*p == ',') p = ws(p + 1);
  }
  return NULL;
}

/* Decodes the JSON string at p (escapes; \\u as UTF-8) into b. */
static void get_string(const char* p, buf* b) {
  b->len = 0;
  put(b, "", 0);
  if (!p || *p != '"') return;
  for (++p; *p && *p != '"'; ++p) {
    if (*p != '\\') {
      put(b, p, 1);
      continue;
    }
    ++p;
    char c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : *p;
    if (*p == 'u') {
      char hex[5] = {p[1], p[2], p[3], p[4], 0};
      unsigned cp = (unsigned)strtoul(hex, NULL, 16);
      p += 4;
      char u[3];
      if (cp < 0x80) {
        u[0] = (char)cp;
        put(b, u, 1);
      } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F));
        put(b, u, 2);
      } else {
        u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
        u[2] = (char)(0x80 | (cp & 0x3F));
        put(b, u, 3);
      }
      continue;
    }
    put(b, &c, 1);
  }
}

static long long num(const char* p) { return p ? atoll(p) : 0; }

static int fail(const char* what, ringlm_status st, ringlm_error* err) {
  fprintf(stderr, "%s: %s: %s\n", what, ringlm_status_name(st), ringlm_error_message(err));
  ringlm_error_free(err);
  return 1;
}

int main(int argc, char** argv) {
  const char* model = NULL;
  const char* system_prompt = "";
  int cp = 1, max_tokens = 128;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--model"))
      model = argv[i + 1];
    else if (!strcmp(argv[i], "--cp"))
      cp = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--max-tokens"))
      max_tokens = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--system"))
      system_prompt = argv[i + 1];
    else {
      fprintf(stderr, "usage: %s [--model PATH] [--cp N] [--max-tokens N] [--system TEXT]\n",
              argv[0]);
      return 2;
    }
  }
  char default_model[4096];
  if (!model) {
    const char* home = getenv("HOME");
    snprintf(default_model, sizeof default_model,
             "%s/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf", home ? home : ".");
    model = getenv("RINGLM_MODEL") ? getenv("RINGLM_MODEL") : default_model;
  }
  if (ringlm_abi_version() != RINGLM_ABI_VERSION) {
    fprintf(stderr, "libringlm ABI %d, this program needs %d\n", ringlm_abi_version(),
            RINGLM_ABI_VERSION);
    return 1;
  }

  /* The engine: the model on `cp` context-parallel ranks. */
  buf cfg = {0};
  puts_(&cfg, "{\"model_path\": ");
  put_json_string(&cfg, model);
  char tail[64];
  snprintf(tail, sizeof tail, ", \"world_size\": %d}", cp);
  puts_(&cfg, tail);
  ringlm_engine* engine = NULL;
  ringlm_error* err = NULL;
  ringlm_status st = ringlm_engine_create(cfg.s, cfg.len, RINGLM_FORMAT_JSON, &engine, &err);
  free(cfg.s);
  if (st) return fail("ringlm_engine_create", st, err);
  fprintf(stderr, "ringlm %s, %d CP rank(s)\n", ringlm_version(), cp);

  /* One session: the conversation and its KV cache. */
  buf scfg = {0};
  puts_(&scfg, "{\"system_prompt\": ");
  put_json_string(&scfg, system_prompt);
  puts_(&scfg, "}");
  ringlm_session* session = NULL;
  st = ringlm_session_create(engine, scfg.s, scfg.len, RINGLM_FORMAT_JSON, &session, &err);
  free(scfg.s);
  if (st) return fail("ringlm_session_create", st, err);

  char line[8192];
  buf req = {0}, text = {0}, tmp = {0};
  int turn = 0, status = 0;
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0]) continue;
    ++turn;
    req.len = 0;
    puts_(&req, "{\"messages\": [{\"role\": \"User\", \"content\": ");
    put_json_string(&req, line);
    snprintf(tail, sizeof tail, "}], \"max_tokens\": %d}", max_tokens);
    puts_(&req, tail);
    st = ringlm_session_chat(session, req.s, req.len, RINGLM_FORMAT_JSON, &err);
    if (st) {
      status = fail("ringlm_session_chat", st, err);
      break;
    }
    /* Pull events until Done or Error. */
    for (;;) {
      void* ev = NULL;
      size_t len = 0;
      st = ringlm_session_next_event(session, -1, &ev, &len, &err);
      if (st) {
        status = fail("ringlm_session_next_event", st, err);
        break;
      }
      const char* json = (const char*)ev;
      get_string(find_key(json, "kind"), &tmp);
      if (!strcmp(tmp.s, "Text")) {
        get_string(find_key(json, "text"), &text);
        fputs(text.s, stdout);
        fflush(stdout);
      } else if (!strcmp(tmp.s, "Done")) {
        const char* resp = find_key(json, "response");
        const char* stats = find_key(resp, "stats");
        get_string(find_key(resp, "finish_reason"), &tmp);
        get_string(find_key(stats, "variant"), &text);
        fprintf(stdout, "\n");
        fprintf(stderr,
                "[turn %d: finish %s, prefill %lld tok (cached %lld), generated %lld, %s]\n", turn,
                tmp.s, num(find_key(stats, "new_tokens")), num(find_key(stats, "cached_tokens")),
                num(find_key(stats, "generated_tokens")), text.s);
        ringlm_buffer_free(ev);
        break;
      } else if (!strcmp(tmp.s, "Error")) {
        get_string(find_key(json, "message"), &text);
        fprintf(stderr, "[turn %d: error %s: %s]\n", turn,
                ringlm_status_name((ringlm_status)num(find_key(json, "status"))), text.s);
        ringlm_buffer_free(ev);
        break;
      }
      ringlm_buffer_free(ev); /* Progress events are not shown */
    }
    if (status) break;
  }
  free(req.s);
  free(text.s);
  free(tmp.s);
  st = ringlm_session_close(session, &err);
  if (st) status = fail("ringlm_session_close", st, err);
  st = ringlm_engine_destroy(engine, &err);
  if (st) status = fail("ringlm_engine_destroy", st, err);
  return status;
}
