package org.ringlm;

import java.lang.ref.Cleaner;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.ringlm.capi.CApi;
import org.ringlm.capi.Format;

/**
 * One conversation: its transcript and its KV cache, kept across turns so
 * that a turn prefills only its new messages.
 *
 * <p>One thread uses a session at a time, except {@link #cancel()}, which
 * any thread may call. Closing is idempotent; any other call on a closed
 * session throws a {@link RingLmException} with {@link Status#NOT_FOUND}.
 */
public final class Session implements AutoCloseable {
  private final Engine engine; // keeps the Engine object reachable while the session is
  private final NativeHandle handle;
  private final Cleaner.Cleanable cleanable;


  Session(Engine engine, long handle) {
    this.engine = engine;
    this.handle = new NativeHandle(handle, CApi::session_close);
    this.cleanable = Engine.CLEANER.register(this, this.handle);
  }

  /** The engine this session runs on. */
  public Engine engine() {
    return engine;
  }

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return handle.isClosed();
  }

  /** Cancels a request in flight, frees the KV and releases the session. */
  @Override
  public void close() throws RingLmException {
    handle.close(cleanable);
  }

  /** Starts a chat turn with one user message. */
  public ChatStream chat(String userMessage) throws RingLmException {
    return chat(ChatRequest.user(userMessage));
  }

  /** Starts a chat turn. Only its new messages are prefilled. */
  public ChatStream chat(ChatRequest request) throws RingLmException {
    return chatJson(request.toJson());
  }

  /** Starts a chat turn from a ChatRequest in the schema's JSON form. */
  public ChatStream chatJson(String chatRequestJson) throws RingLmException {
    CApi.session_chat(handle.value, chatRequestJson.getBytes(StandardCharsets.UTF_8), Format.FORMAT_JSON);
    return new ChatStream(this);
  }

  /**
   * Raw mode: appends token ids to the session's history (no chat template)
   * and generates up to {@code maxTokens} greedily.
   */
  public ChatStream generate(int[] tokens, int maxTokens) throws RingLmException {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("tokens", tokens);
    m.put("max_tokens", maxTokens);
    return generateJson(Json.write(m));
  }

  /** Raw mode from a GenerateRequest in the schema's JSON form. */
  public ChatStream generateJson(String generateRequestJson) throws RingLmException {
    CApi.session_generate(handle.value, generateRequestJson.getBytes(StandardCharsets.UTF_8),
        Format.FORMAT_JSON);
    return new ChatStream(this);
  }

  /**
   * Asks the request in flight to stop; any thread may call it. The request
   * ends with a response whose finish reason is {@link FinishReason#Cancelled};
   * the session stays usable.
   */
  public void cancel() throws RingLmException {
    CApi.session_cancel(handle.value);
  }

  /** The conversation so far. */
  public Transcript transcript() throws RingLmException {
    byte[][] out = new byte[1][];
    CApi.session_transcript(handle.value, Format.FORMAT_JSON, out);
    return Transcript.fromJson(Json.parse(new String(out[0], StandardCharsets.UTF_8)));
  }

  /** Writes the session (transcript, history, KV) to {@code path} atomically. */
  public void save(Path path) throws RingLmException {
    CApi.session_save(handle.value, pathBytes(path));
  }

  /**
   * Keeps the first {@code keepMessages} messages of the transcript (a system
   * prompt counts as one) and frees the KV of the rest, so the next turn
   * prefills only what follows them: rewinding to all but the last two
   * messages and asking the same question again regenerates the last reply.
   * {@link Status#OUT_OF_RANGE} beyond the transcript.
   */
  public void rewind(long keepMessages) throws RingLmException {
    CApi.session_rewind(handle.value, keepMessages);
  }

  /**
   * Raw mode: keeps the first {@code keepTokens} tokens of the token
   * history; the transcript is not changed.
   */
  public void rewindTokens(long keepTokens) throws RingLmException {
    CApi.session_rewind_tokens(handle.value, keepTokens);
  }

  /**
   * A new session continuing from this one: the same transcript and
   * history, and a copy of its KV on every rank, so its next turn prefills
   * only its own tokens (the copy shares this session's KV pages until either
   * writes into one). The two sessions are independent afterwards.
   */
  public Session fork() throws RingLmException {
    long[] out = new long[1];
    CApi.session_fork(handle.value, out);
    return new Session(engine, out[0]);
  }

  /** The next event's JSON, or null when {@code timeoutMs} passed first. */
  String nextEventJson(int timeoutMs) throws RingLmException {
    byte[][] out = new byte[1][];
    CApi.session_next_event(handle.value, timeoutMs, out);
    return out[0] == null ? null : new String(out[0], StandardCharsets.UTF_8);
  }

  static byte[] pathBytes(Path path) {
    String s = path.toString();
    if (s.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("a path cannot contain a NUL character");
    }
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
