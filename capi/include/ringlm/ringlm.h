/*
 * ringlm.h: the C interface of ringlm, an embeddable engine for long-context
 * LLM inference with context parallelism (CP).
 *
 * This is the only public header. It declares opaque handles, status codes,
 * error objects, byte buffers and plain functions; no C++ type, no
 * third-party type and no struct passed by value appear in it.
 *
 * Messages. Configurations, requests, events and responses are FlatBuffers
 * tables defined in the installed schemas (share/ringlm/schemas/<name>.fbs,
 * C++ headers include/ringlm/<name>_generated.h). Each message type has its
 * own file identifier (EngineConfig "RLEC", SessionConfig "RLSC",
 * ChatRequest "RLCQ", GenerateRequest "RLGQ", Event "RLEV", ChatResponse
 * "RLCR", EngineInfo "RLEI", Transcript "RLTR"). Every function taking a
 * message also takes its format: RINGLM_FORMAT_FLATBUFFERS (binary, with the
 * identifier) or RINGLM_FORMAT_JSON (the same schema in FlatBuffers' JSON
 * form, UTF-8, for hosts without a FlatBuffers runtime). Messages the
 * library returns for a call come in the format of that call's input.
 * Incoming bytes are never trusted: they are size-checked against
 * RINGLM_MAX_MESSAGE_BYTES, copied (so the host may free or reuse them as
 * soon as the call returns) and verified before any field is read.
 *
 * Errors. Every fallible function returns a ringlm_status. Details travel
 * with the call: a function's last parameter `ringlm_error** err` (may be
 * NULL) receives a new error object on failure and NULL on success; the
 * caller frees it with ringlm_error_free. Errors of a running request arrive
 * as its Error event. There is no global or thread-local "last error".
 *
 * Ownership. Buffers the library returns (`void** out` with `size_t*
 * out_len`, token arrays, text) belong to the caller and are freed with
 * ringlm_buffer_free. Binary buffers are aligned to 8 bytes; JSON buffers
 * and text are followed by a NUL byte not counted in the length. Pointers
 * the caller passes in are only read during the call (except the callback's
 * `user`, passed back during the call).
 *
 * Threads. An engine handle may be used by any number of threads at once.
 * A session is used by one thread at a time (any thread, not necessarily
 * the same one each call), except ringlm_session_cancel and
 * ringlm_session_close, which any thread may call at any time while the
 * session is open (close then cancels the request in flight and waits for
 * it). The engine runs requests of different sessions one at a time on its
 * ranks (the ring is shared), in no promised order.
 * Handles are never dereferenced by the caller; a closed or unknown handle
 * is reported as RINGLM_STATUS_NOT_FOUND, never a crash.
 *
 * Never does a function abort, exit, throw or longjmp into the host, and
 * no function blocks forever except as documented (next_event with a
 * negative timeout, the *_stream calls and ringlm_engine_serve, which
 * return when their request or group ends).
 *
 * Linking: pkg-config --cflags --libs ringlm, or in CMake
 * find_package(ringlm) and target ringlm::ringlm. See docs/c-api.md.
 */
#ifndef RINGLM_RINGLM_H_
#define RINGLM_RINGLM_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#if defined(RINGLM_BUILDING_LIBRARY)
#define RINGLM_API __declspec(dllexport)
#else
#define RINGLM_API __declspec(dllimport)
#endif
#else
#define RINGLM_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------ */

/* The version of this header. ringlm_version() is the library's. */
#define RINGLM_VERSION_MAJOR 0
#define RINGLM_VERSION_MINOR 1
#define RINGLM_VERSION_PATCH 0
#define RINGLM_VERSION "0.1.0"
/* MAJOR * 1000000 + MINOR * 1000 + PATCH, for #if comparisons. */
#define RINGLM_VERSION_NUMBER 1000

/* The ABI number: the shared library's SOVERSION (libringlm.so.0). It
 * changes only when an existing function's signature or meaning changes;
 * new functions, status codes, enum values and schema fields do not change
 * it. A host compiled against ABI n runs against any library of ABI n with
 * a version at least as new as its header. */
#define RINGLM_ABI_VERSION 0

/* Largest message (FlatBuffer or JSON text) any function accepts. */
#define RINGLM_MAX_MESSAGE_BYTES ((size_t)64 << 20)

/* "0.1.0": the library's version. Static storage; never NULL. */
RINGLM_API const char* ringlm_version(void);
/* The library's ABI number (compare with RINGLM_ABI_VERSION). */
RINGLM_API int32_t ringlm_abi_version(void);

/* ------------------------------------------------------------------------
 * Status codes
 * ------------------------------------------------------------------------ */

/* A function's result: one of the RINGLM_STATUS_* values. New values may be
 * added in later versions; treat an unknown non-zero value as a failure
 * (ringlm_status_name names it "UNKNOWN"). */
typedef int32_t ringlm_status;

enum ringlm_status_code {
  /* Success. */
  RINGLM_STATUS_OK = 0,
  /* The caller passed something invalid: a NULL handle or output pointer,
   * an unknown format or message type, a message of the wrong type
   * (another ringlm message's file identifier; bytes with no ringlm
   * identifier are CORRUPT_DATA), a value out of its documented range (world size,
   * sampling parameter, role, token id), a missing required field, or a
   * request with no messages or no tokens. */
  RINGLM_STATUS_INVALID_ARGUMENT = 1,
  /* A handle that is unknown or already closed/destroyed, a model file or
   * save file that does not exist. */
  RINGLM_STATUS_NOT_FOUND = 2,
  /* A length beyond a limit: a message larger than RINGLM_MAX_MESSAGE_BYTES,
   * a prompt that does not fit the model's context length. */
  RINGLM_STATUS_OUT_OF_RANGE = 3,
  /* Bytes that fail validation: a truncated or malformed FlatBuffer, JSON
   * that does not parse against the schema, a damaged model or save file;
   * a model whose logits are not numbers (a request's Error event). */
  RINGLM_STATUS_CORRUPT_DATA = 4,
  /* Valid input this build cannot handle: a model architecture or tensor
   * type, a device kind, a save file of another format version. */
  RINGLM_STATUS_UNSUPPORTED = 5,
  /* The operating system refused a read, write or mapping. */
  RINGLM_STATUS_IO_ERROR = 6,
  /* Memory or the KV budget is exhausted (the budget is short even after
   * evicting every idle session's KV). A request whose KV could not fit
   * even alone (beyond all ranks' budgets together, or one rank's whole
   * budget; a saved session restored the same way) fails without evicting
   * anything; a reply whose next token finds no room in any rank's whole
   * budget is not an error: it ends with finish reason ContextFull. */
  RINGLM_STATUS_RESOURCE_EXHAUSTED = 7,
  /* A communication deadline passed (EngineConfig.comm_timeout_ms). */
  RINGLM_STATUS_DEADLINE_EXCEEDED = 8,
  /* A peer rank disappeared; the engine cannot run requests any more. */
  RINGLM_STATUS_UNAVAILABLE = 9,
  /* The operation was cut short: a ringlm_session_next_event wait ended
   * because the session was closed meanwhile; the comm was shut down. */
  RINGLM_STATUS_CANCELLED = 10,
  /* The object is in the wrong state for the call: a request is already in
   * flight on the session, or next_event was called with none in flight. */
  RINGLM_STATUS_FAILED_PRECONDITION = 11,
  /* A bug in ringlm: an invariant did not hold. Please report it. */
  RINGLM_STATUS_INTERNAL = 12
};

/* "OK", "INVALID_ARGUMENT", ..., "INTERNAL"; "UNKNOWN" for other values.
 * Static storage; never NULL. */
RINGLM_API const char* ringlm_status_name(ringlm_status status);

/* ------------------------------------------------------------------------
 * Errors and buffers
 * ------------------------------------------------------------------------ */

/* The details of one failed call: its status and a message. */
typedef struct ringlm_error ringlm_error;

/* The error's status; RINGLM_STATUS_OK for NULL. */
RINGLM_API ringlm_status ringlm_error_status(const ringlm_error* err);
/* The error's message (UTF-8, NUL-terminated), valid until ringlm_error_free;
 * "" for NULL. */
RINGLM_API const char* ringlm_error_message(const ringlm_error* err);
/* Frees an error. NULL is a no-op. */
RINGLM_API void ringlm_error_free(ringlm_error* err);

/* Frees a buffer returned by any ringlm function. NULL is a no-op. */
RINGLM_API void ringlm_buffer_free(void* buffer);

/* ------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------ */

/* The encoding of a message (an int32_t `format` parameter). */
enum ringlm_format {
  RINGLM_FORMAT_FLATBUFFERS = 0, /* binary FlatBuffer with its file identifier */
  RINGLM_FORMAT_JSON = 1         /* FlatBuffers JSON of the same schema, UTF-8 */
};

/* The message types of the schemas (an int32_t `message` parameter). */
enum ringlm_message {
  RINGLM_MESSAGE_ENGINE_CONFIG = 1,
  RINGLM_MESSAGE_SESSION_CONFIG = 2,
  RINGLM_MESSAGE_CHAT_REQUEST = 3,
  RINGLM_MESSAGE_GENERATE_REQUEST = 4,
  RINGLM_MESSAGE_EVENT = 5,
  RINGLM_MESSAGE_CHAT_RESPONSE = 6,
  RINGLM_MESSAGE_ENGINE_INFO = 7,
  RINGLM_MESSAGE_TRANSCRIPT = 8
};

/* Verifies a message of type `message` given in `in_format` and re-encodes
 * it in `out_format` (FlatBuffers <-> JSON, or the same format: a verified,
 * canonical copy). JSON output spells every field, defaults included, with
 * enum values by name. *out (ringlm_buffer_free) and *out_len receive the
 * result.
 * INVALID_ARGUMENT: unknown message type or format, NULL in/out/out_len,
 *   another ringlm message's file identifier; OUT_OF_RANGE: in_len >
 *   RINGLM_MAX_MESSAGE_BYTES; CORRUPT_DATA: the bytes do not verify or parse
 *   (no ringlm file identifier included); UNSUPPORTED: JSON output asked for
 *   a string that is not valid UTF-8. */
RINGLM_API ringlm_status ringlm_message_convert(int32_t message, const void* in, size_t in_len,
                                                int32_t in_format, int32_t out_format, void** out,
                                                size_t* out_len, ringlm_error** err);

/* ------------------------------------------------------------------------
 * Engines
 * ------------------------------------------------------------------------ */

/* An engine: a loaded model, its tokenizer and chat template, and the CP
 * rank group. Opaque. */
typedef struct ringlm_engine ringlm_engine;

/* Loads the model and starts the rank group described by an EngineConfig
 * (rank 0: the leader; a multi-process group's other ranks call
 * ringlm_engine_serve). Blocks until the ranks are connected and
 * calibrated. On success *out receives the handle (ringlm_engine_destroy).
 * INVALID_ARGUMENT: NULL config or out, bad format, wrong identifier, no
 *   model_path, world_size outside [1, 1024], rank != 0, a negative size or
 *   timeout, an unknown enum value, a KV budget (of any rank) smaller than
 *   one KV page of the model;
 * OUT_OF_RANGE / CORRUPT_DATA: as for every message;
 * NOT_FOUND: no model file; CORRUPT_DATA: a damaged model file;
 * UNSUPPORTED: model architecture or type, a device other than "cpu";
 * IO_ERROR, RESOURCE_EXHAUSTED; DEADLINE_EXCEEDED / UNAVAILABLE: the ranks
 *   of a multi-process group did not all join. */
RINGLM_API ringlm_status ringlm_engine_create(const void* config, size_t config_len, int32_t format,
                                              ringlm_engine** out, ringlm_error** err);

/* Releases the host's handle. The engine shuts its ranks down once its last
 * session is closed as well (sessions keep it alive), so destroying it while
 * sessions are open is safe. NULL: OK, no-op. NOT_FOUND: an unknown or
 * already destroyed handle. Must not race with another call on the same
 * engine handle that has not returned yet: such a call either completes or
 * reports NOT_FOUND. */
RINGLM_API ringlm_status ringlm_engine_destroy(ringlm_engine* engine, ringlm_error** err);

/* The engine's EngineInfo (version, model, ranks, calibration) in `format`.
 * INVALID_ARGUMENT: NULL engine/out/out_len, bad format; NOT_FOUND. */
RINGLM_API ringlm_status ringlm_engine_info(ringlm_engine* engine, int32_t format, void** out,
                                            size_t* out_len, ringlm_error** err);

/* Runs rank `rank` (>= 1) of a multi-process group described by an
 * EngineConfig with a rendezvous, until the leader (rank 0, which called
 * ringlm_engine_create) destroys its engine: then OK. Blocks the calling
 * thread. INVALID_ARGUMENT: as ringlm_engine_create, and rank < 1, rank >=
 * world_size or no rendezvous; DEADLINE_EXCEEDED / UNAVAILABLE: the leader
 * was lost (its connections dropped, a step passed comm_timeout_ms, or it
 * said nothing, not even its idle heartbeat, for the leader's
 * leader_timeout_ms); model errors as ringlm_engine_create. */
RINGLM_API ringlm_status ringlm_engine_serve(const void* config, size_t config_len, int32_t format,
                                             ringlm_error** err);

/* Encodes UTF-8 text into token ids with the model's tokenizer. add_special
 * != 0: add BOS/EOS as the model's metadata says and recognise control-token
 * texts. *tokens (ringlm_buffer_free; NULL when *n_tokens is 0) receives
 * *n_tokens ids. INVALID_ARGUMENT: NULL engine/tokens/n_tokens, NULL text
 * with text_len > 0; OUT_OF_RANGE: text_len > RINGLM_MAX_MESSAGE_BYTES;
 * NOT_FOUND. */
RINGLM_API ringlm_status ringlm_engine_tokenize(ringlm_engine* engine, const char* text,
                                                size_t text_len, int32_t add_special,
                                                int32_t** tokens, size_t* n_tokens,
                                                ringlm_error** err);

/* Decodes token ids into text (control tokens left out). *text
 * (ringlm_buffer_free, NUL-terminated) receives *text_len bytes, which may
 * end in an incomplete UTF-8 character when the ids split one.
 * INVALID_ARGUMENT: NULL engine/text/text_len, NULL tokens with n_tokens > 0,
 * an id outside the vocabulary; OUT_OF_RANGE: more than
 * RINGLM_MAX_MESSAGE_BYTES / 4 ids; NOT_FOUND. */
RINGLM_API ringlm_status ringlm_engine_detokenize(ringlm_engine* engine, const int32_t* tokens,
                                                  size_t n_tokens, char** text, size_t* text_len,
                                                  ringlm_error** err);

/* ------------------------------------------------------------------------
 * Sessions
 * ------------------------------------------------------------------------ */

/* A session: one conversation, its transcript and its KV cache (sharded
 * over the ranks, kept across turns so that a turn prefills only its new
 * tokens). Opaque. */
typedef struct ringlm_session ringlm_session;

/* Opens a session on `engine`, configured by a SessionConfig (config NULL
 * with config_len 0: the defaults). On success *out receives the handle
 * (ringlm_session_close).
 * INVALID_ARGUMENT: NULL engine or out, NULL config with config_len > 0,
 *   bad format, wrong identifier; OUT_OF_RANGE / CORRUPT_DATA: as for every
 *   message; NOT_FOUND: unknown engine. */
RINGLM_API ringlm_status ringlm_session_create(ringlm_engine* engine, const void* config,
                                               size_t config_len, int32_t format,
                                               ringlm_session** out, ringlm_error** err);

/* Closes the session: cancels its request in flight (if any; its events are
 * dropped), waits for it to stop (and for a ringlm_session_save, _rewind,
 * _rewind_tokens or _fork of the session another thread runs), frees its
 * KV on every rank and releases the
 * handle, which is invalid afterwards whatever the status, except
 * FAILED_PRECONDITION. Any thread may call it, also while a *_stream
 * request runs on the session (that request then ends with Done, Cancelled,
 * before close returns). NULL: OK, no-op.
 * NOT_FOUND: unknown or already closed; FAILED_PRECONDITION: called from an
 * event callback of the same engine (the handle stays valid);
 * DEADLINE_EXCEEDED / UNAVAILABLE: the ranks could not be told to free the
 * KV (the handle is still released). */
RINGLM_API ringlm_status ringlm_session_close(ringlm_session* session, ringlm_error** err);

/* Starts one chat turn described by a ChatRequest and returns at once. The
 * request runs on a thread of the library; its events (Progress during the
 * prefill, Text as tokens are generated, then exactly one Done or Error)
 * are pulled with ringlm_session_next_event, in `format`. The new messages
 * and the reply join the transcript when the request ends with Done; on
 * Error the transcript is as before the request and the KV cache holds no
 * more of the conversation than before (the next request prefills what it
 * lacks).
 * INVALID_ARGUMENT: NULL session or request, bad format, wrong identifier,
 *   no messages, an unknown role, a sampling parameter out of range, a
 *   negative max_tokens, a top_logprobs outside [0, 20]; OUT_OF_RANGE / CORRUPT_DATA: as for every message;
 * NOT_FOUND: unknown session;
 * FAILED_PRECONDITION: a request is in flight (its terminal event has not
 *   been pulled yet), or another thread saves, rewinds or forks the
 *   session.
 * Errors found while the request runs (a prompt longer than the context:
 * OUT_OF_RANGE; communication failures; KV budget) arrive as its Error
 * event. */
RINGLM_API ringlm_status ringlm_session_chat(ringlm_session* session, const void* request,
                                             size_t request_len, int32_t format,
                                             ringlm_error** err);

/* As ringlm_session_chat with a GenerateRequest (raw token ids appended to
 * the session's token history, no chat template, no transcript change).
 * With Done (Cancelled too) the request's tokens and every generated token
 * join the history, the last one included (the next request feeds it to the
 * model first); with Error the history is as before.
 * INVALID_ARGUMENT also for no tokens or an id outside the vocabulary. */
RINGLM_API ringlm_status ringlm_session_generate(ringlm_session* session, const void* request,
                                                 size_t request_len, int32_t format,
                                                 ringlm_error** err);

/* Pulls the next event of the session's request in flight. Waits up to
 * timeout_ms milliseconds for one (0: do not wait; negative: wait as long
 * as it takes; a request always ends with a terminal event, so the wait
 * ends). On OK, *event (ringlm_buffer_free) and *event_len receive an Event
 * in the request's format, or NULL and 0 when the timeout passed first.
 * After the terminal event (Done or Error) the session accepts a new
 * request. An Error event is a delivered event: the call returns OK.
 * INVALID_ARGUMENT: NULL session/event/event_len; NOT_FOUND: unknown
 * session; FAILED_PRECONDITION: no request in flight (never started, or its
 * terminal event was already pulled), the request runs in a *_stream call,
 * or a negative timeout from an event callback of the same engine (the wait
 * could not end); CANCELLED: the session was closed during the wait;
 * UNSUPPORTED: a JSON event whose text is not valid UTF-8 (FlatBuffers
 * carries it); RESOURCE_EXHAUSTED: out of memory for the event, which stays
 * queued for the next call. */
RINGLM_API ringlm_status ringlm_session_next_event(ringlm_session* session, int32_t timeout_ms,
                                                   void** event, size_t* event_len,
                                                   ringlm_error** err);

/* Asks the session's request in flight to stop: a prefill stops before its
 * next step (EngineConfig.prefill_chunk tokens; the first step always runs),
 * a decode before its next token. The request then ends with a Done event
 * whose finish_reason is Cancelled, carrying what was generated so far; as
 * for any Done, a chat turn's messages and its (partial) reply join the
 * transcript. The session stays usable.
 * Any thread may call it at any time while the session is open.
 * OK also when nothing runs (no effect: a later request is not cancelled).
 * INVALID_ARGUMENT: NULL session; NOT_FOUND: unknown or closed session. */
RINGLM_API ringlm_status ringlm_session_cancel(ringlm_session* session, ringlm_error** err);

/* A plain C event callback: `event` (`event_len` bytes, an Event in the
 * request's format) is owned by the library and valid only during the call.
 * Return 0 to continue, non-zero to cancel the request (it then ends with a
 * Done event whose finish_reason is Cancelled). Runs on the thread that
 * called the *_stream function, while the request holds the engine's ring:
 * from a callback, the calls that would wait for the ring return
 * FAILED_PRECONDITION (ringlm_session_close, _save, _restore, the *_stream
 * functions and ringlm_engine_destroy on the same engine, and next_event
 * with a negative timeout); cancel, transcript, info, tokenize and
 * starting a pull-mode request on another session are fine. */
typedef int32_t (*ringlm_event_callback)(void* user, const void* event, size_t event_len);

/* Runs one chat turn on the calling thread, calling `callback` for every
 * event, the terminal Done or Error event included, and returns when the
 * request has ended: OK after Done, else the Error event's status (with
 * *err set). Argument errors are those of ringlm_session_chat (returned
 * without calling the callback); INVALID_ARGUMENT also for a NULL callback.
 * The callback may call ringlm_session_cancel on this session; other calls
 * on it return FAILED_PRECONDITION (a request is in flight). FAILED_PRECONDITION
 * also from an event callback of the same engine. */
RINGLM_API ringlm_status ringlm_session_chat_stream(ringlm_session* session, const void* request,
                                                    size_t request_len, int32_t format,
                                                    ringlm_event_callback callback, void* user,
                                                    ringlm_error** err);

/* As ringlm_session_chat_stream with a GenerateRequest. */
RINGLM_API ringlm_status ringlm_session_generate_stream(ringlm_session* session,
                                                        const void* request, size_t request_len,
                                                        int32_t format,
                                                        ringlm_event_callback callback, void* user,
                                                        ringlm_error** err);

/* The session's Transcript (messages so far, token count) in `format`.
 * INVALID_ARGUMENT: NULL session/out/out_len, bad format; NOT_FOUND;
 * FAILED_PRECONDITION: a request is in flight; UNSUPPORTED: JSON asked for
 * and a message is not valid UTF-8. */
RINGLM_API ringlm_status ringlm_session_transcript(ringlm_session* session, int32_t format,
                                                   void** out, size_t* out_len, ringlm_error** err);

/* Writes the session (transcript, token history and every rank's KV shard,
 * with the model's fingerprint and a checksum) to the file `path` (UTF-8,
 * NUL-terminated), atomically: a temporary file, flushed to the disk, then
 * renamed over `path`; on failure `path` is as it was.
 * INVALID_ARGUMENT: NULL session or path, empty path; NOT_FOUND: unknown
 * session (closed, also by a ringlm_session_close that waits for this save
 * to end); FAILED_PRECONDITION: a request is in flight, or called from an
 * event callback of the same engine; IO_ERROR; DEADLINE_EXCEEDED /
 * UNAVAILABLE: the ranks' shards could not be gathered. */
RINGLM_API ringlm_status ringlm_session_save(ringlm_session* session, const char* path,
                                             ringlm_error** err);

/* Opens a new session on `engine` from a file written by
 * ringlm_session_save: the same transcript and history, and the KV shards
 * restored (on an engine with another world size the KV is rebuilt by
 * prefill on the next turn). *out receives the handle (ringlm_session_close).
 * INVALID_ARGUMENT: NULL engine/path/out, empty path, a file saved with
 * another model; NOT_FOUND: no file or unknown engine; CORRUPT_DATA: a
 * damaged file (bad magic, checksum or lengths); UNSUPPORTED: another file
 * format version; IO_ERROR; RESOURCE_EXHAUSTED: the KV budget (idle
 * sessions' KV is evicted first); FAILED_PRECONDITION: called from an event
 * callback of the same engine. */
RINGLM_API ringlm_status ringlm_session_restore(ringlm_engine* engine, const char* path,
                                                ringlm_session** out, ringlm_error** err);

/* ------------------------------------------------------------------------
 * Editing a conversation
 * ------------------------------------------------------------------------ */

/* Rewinds the session to the first `keep_messages` messages of its
 * Transcript (ringlm_session_transcript; a system prompt counts as one
 * message): the later messages leave the transcript, and on every rank,
 * before the call returns, the KV is cut to the tokens that the prompt of
 * the kept messages followed by a user message starts with (what the
 * template writes for them, and before a next user message). The next chat
 * turn prefills only what follows: to regenerate the last reply, keep all but the last two
 * messages and send the same user message again; to edit a message, keep
 * those before it and send the new text. keep_messages equal to the
 * transcript's size changes nothing.
 * Any thread; the session must be idle (as for ringlm_session_save).
 * INVALID_ARGUMENT: NULL session; NOT_FOUND: unknown or closed session;
 * OUT_OF_RANGE: keep_messages < 0 or more than the transcript holds
 *   (nothing changes); FAILED_PRECONDITION: a request is in flight, another
 *   thread saves, rewinds or forks the session, or called from an event
 *   callback of the same engine; DEADLINE_EXCEEDED / UNAVAILABLE: the ranks
 *   could not be reached (the transcript is as before; the rank group is
 *   broken, so later requests fail too). */
RINGLM_API ringlm_status ringlm_session_rewind(ringlm_session* session, int64_t keep_messages,
                                               ringlm_error** err);

/* Raw mode's rewind: keeps the first `keep_tokens` tokens of the session's
 * token history (Transcript.token_count tokens) and frees the KV of the
 * rest; the transcript is not changed. The next ringlm_session_generate
 * appends its tokens to the kept ones. Statuses as for
 * ringlm_session_rewind, OUT_OF_RANGE for keep_tokens < 0 or beyond the
 * history. */
RINGLM_API ringlm_status ringlm_session_rewind_tokens(ringlm_session* session,
                                                      int64_t keep_tokens, ringlm_error** err);

/* Opens a new session that continues from where `session` is: the same
 * transcript and token history, and a copy of its KV shard on every rank,
 * so the fork's next turn prefills only its own new tokens. The two
 * sessions are independent afterwards (either may be rewound, saved or
 * closed). The copy shares the original's KV pages until either session
 * writes into one (copy-on-write): a fork takes no KV budget at first, and
 * each session's next turn takes at most one page for the page the two
 * shared partly filled, plus the pages its new tokens need. On success
 * *out receives the new handle (ringlm_session_close).
 * Any thread; the session must be idle.
 * INVALID_ARGUMENT: NULL session or out; NOT_FOUND: unknown or closed
 * session; FAILED_PRECONDITION: as for ringlm_session_rewind;
 * DEADLINE_EXCEEDED / UNAVAILABLE: the ranks could not be reached (no
 * session is opened). */
RINGLM_API ringlm_status ringlm_session_fork(ringlm_session* session, ringlm_session** out,
                                             ringlm_error** err);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RINGLM_RINGLM_H_ */
