/* The KV budget through the C ABI: with room for one session's KV per rank,
 * a second session evicts the first (ChatResponse stats: evictions), the
 * first's next turn rebuilds its KV by prefill (rebuilt, no cached tokens),
 * and a request that cannot fit even alone fails with RESOURCE_EXHAUSTED
 * while the session stays usable. Plain C. */
#include "capi_test_util.h"

static char* turn(ringlm_session* s, const char* user) {
  strbuf req = chat_json(user, 2);
  EXPECT_OK(ringlm_session_chat(s, req.data, req.len, RINGLM_FORMAT_JSON, &err));
  sb_free(&req);
  return drain(s, RINGLM_FORMAT_JSON, NULL, NULL);
}

int main(void) {
  /* SmolLM2-135M: 30 layers x 3 KV heads x 64 dims, f32 K and V: a page of
   * 64 tokens is ~2.9 MB per rank. 4 MB holds one page per rank. */
  strbuf cfg = {0};
  sb_puts(&cfg, "{\"model_path\": ");
  sb_json_string(&cfg, test_model_path());
  sb_puts(&cfg,
          ", \"world_size\": 2, \"threads_per_rank\": 1, \"kv_page_tokens\": 64, "
          "\"kv_budget_bytes\": 4000000}");
  ringlm_engine* e = NULL;
  EXPECT_OK(ringlm_engine_create(cfg.data, cfg.len, RINGLM_FORMAT_JSON, &e, &err));
  sb_free(&cfg);
  ringlm_session* a = NULL;
  ringlm_session* b = NULL;
  EXPECT_OK(ringlm_session_create(e, NULL, 0, RINGLM_FORMAT_JSON, &a, &err));
  EXPECT_OK(ringlm_session_create(e, NULL, 0, RINGLM_FORMAT_JSON, &b, &err));

  char* done = turn(a, "Hi.");
  CHECK(json_string_is(done, "kind", "Done"));
  CHECK(json_int(done, "response.stats.evictions", -1) == 0);
  CHECK(json_bool(done, "response.stats.rebuilt") == 0);
  free(done);

  done = turn(b, "Hello.");
  CHECK(json_string_is(done, "kind", "Done"));
  CHECK(json_int(done, "response.stats.evictions", 0) >= 1); /* a's KV made room */
  free(done);

  done = turn(a, "Again.");
  CHECK(json_string_is(done, "kind", "Done"));
  CHECK(json_bool(done, "response.stats.rebuilt") == 1);
  CHECK(json_int(done, "response.stats.cached_tokens", -1) == 0);
  CHECK(json_int(done, "response.stats.evictions", 0) >= 1); /* b's, in turn */
  free(done);

  /* 300 raw tokens need more than one page per rank: no eviction helps. */
  strbuf req = {0};
  sb_puts(&req, "{\"tokens\": [");
  for (int i = 0; i < 300; ++i) sb_printf(&req, "%s%d", i ? "," : "", 200 + i);
  sb_puts(&req, "], \"max_tokens\": 1}");
  EXPECT_OK(ringlm_session_generate(b, req.data, req.len, RINGLM_FORMAT_JSON, &err));
  sb_free(&req);
  done = drain(b, RINGLM_FORMAT_JSON, NULL, NULL);
  CHECK(json_string_is(done, "kind", "Error"));
  CHECK(json_int(done, "status", 0) == RINGLM_STATUS_RESOURCE_EXHAUSTED);
  free(done);
  done = turn(b, "Still there?");
  CHECK(json_string_is(done, "kind", "Done"));
  free(done);

  EXPECT_OK(ringlm_session_close(a, &err));
  EXPECT_OK(ringlm_session_close(b, &err));
  EXPECT_OK(ringlm_engine_destroy(e, &err));
  printf("capi_kv_budget_test: OK\n");
  return 0;
}
