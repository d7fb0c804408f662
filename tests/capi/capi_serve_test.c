/* A two-process CP group through the C ABI: a forked child runs rank 1 with
 * ringlm_engine_serve, this process leads with ringlm_engine_create, chats
 * one turn, and destroys the engine, which releases the worker. Plain C. */
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capi_test_util.h"

static strbuf group_config(const char* rendezvous, int rank) {
  strbuf sb = {0};
  sb_puts(&sb, "{\"model_path\": ");
  sb_json_string(&sb, test_model_path());
  sb_puts(&sb, ", \"world_size\": 2, \"rendezvous\": ");
  sb_json_string(&sb, rendezvous);
  sb_printf(&sb, ", \"rank\": %d, \"threads_per_rank\": 1, \"comm_timeout_ms\": 30000}", rank);
  return sb;
}

int main(void) {
  test_model_path(); /* skips before forking when the model is absent */
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/store-XXXXXX", test_temp_dir("capi_serve"));
  CHECK(mkdtemp(dir) != NULL);
  char rendezvous[4300];
  snprintf(rendezvous, sizeof rendezvous, "file:%s", dir);
  fflush(NULL);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    strbuf cfg = group_config(rendezvous, 1);
    ringlm_error* err = NULL;
    ringlm_status st = ringlm_engine_serve(cfg.data, cfg.len, RINGLM_FORMAT_JSON, &err);
    if (st != RINGLM_STATUS_OK)
      fprintf(stderr, "rank 1: %s: %s\n", ringlm_status_name(st), ringlm_error_message(err));
    ringlm_error_free(err);
    sb_free(&cfg);
    _exit(st == RINGLM_STATUS_OK ? 0 : 10 + st);
  }
  strbuf cfg = group_config(rendezvous, 0);
  ringlm_engine* e = NULL;
  EXPECT_OK(ringlm_engine_create(cfg.data, cfg.len, RINGLM_FORMAT_JSON, &e, &err));
  sb_free(&cfg);
  void* info = NULL;
  size_t len = 0;
  EXPECT_OK(ringlm_engine_info(e, RINGLM_FORMAT_JSON, &info, &len, &err));
  CHECK(json_int((char*)info, "world_size", 0) == 2);
  ringlm_buffer_free(info);
  ringlm_session* s = NULL;
  EXPECT_OK(ringlm_session_create(e, NULL, 0, RINGLM_FORMAT_JSON, &s, &err));
  strbuf req = chat_json("Hello from two processes.", 3);
  EXPECT_OK(ringlm_session_chat(s, req.data, req.len, RINGLM_FORMAT_JSON, &err));
  char* done = drain(s, RINGLM_FORMAT_JSON, NULL, NULL);
  CHECK(json_string_is(done, "kind", "Done"));
  CHECK(json_int(done, "response.stats.world_size", 0) == 2);
  CHECK(json_array_len(done, "response.stats.kv_tokens") == 2);
  CHECK(json_int(done, "response.stats.kv_tokens", 0) >= 0);
  free(done);
  sb_free(&req);
  EXPECT_OK(ringlm_session_close(s, &err));
  EXPECT_OK(ringlm_engine_destroy(e, &err));
  int wstatus = 0;
  CHECK(waitpid(child, &wstatus, 0) == child);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    fprintf(stderr, "rank 1 process ended with status %d\n", wstatus);
    return 1;
  }
  printf("capi_serve_test: OK\n");
  return 0;
}
