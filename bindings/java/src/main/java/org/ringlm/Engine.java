package org.ringlm;

import java.lang.ref.Cleaner;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.ringlm.capi.CApi;
import org.ringlm.capi.Format;

/**
 * A loaded model and its context-parallel rank group.
 *
 * <pre>{@code
 * try (Engine engine = Engine.builder(modelPath).worldSize(2).build();
 *      Session session = engine.newSession()) {
 *   ChatResponse r = session.chat("Hello!").response();
 * }
 * }</pre>
 *
 * <p>Thread-safe: any number of threads may use one engine; requests of
 * different sessions run one at a time. {@link #close()} releases the
 * handle; open sessions keep the ranks alive until they are closed.
 */
public final class Engine implements AutoCloseable {
  static {
    NativeLibrary.load();
  }

  static final Cleaner CLEANER = Cleaner.create();

  private final NativeHandle handle;
  private final Cleaner.Cleanable cleanable;


  private Engine(byte[] configJson) throws RingLmException {
    long[] out = new long[1];
    CApi.engine_create(configJson, Format.FORMAT_JSON, out);
    handle = new NativeHandle(out[0], CApi::engine_destroy);
    cleanable = CLEANER.register(this, handle);
  }

  /** An engine from an EngineConfig in the schema's JSON form. */
  public static Engine fromJson(String engineConfigJson) throws RingLmException {
    Objects.requireNonNull(engineConfigJson, "engineConfigJson");
    return new Engine(engineConfigJson.getBytes(StandardCharsets.UTF_8));
  }

  /** A builder of the EngineConfig for the model file {@code modelPath} (GGUF). */
  public static Builder builder(Path modelPath) {
    return new Builder(modelPath.toString());
  }

  /** A builder of the EngineConfig for the model file {@code modelPath} (GGUF). */
  public static Builder builder(String modelPath) {
    return new Builder(modelPath);
  }

  /** EngineConfig fields (see capi/schemas/engine_config.fbs). */
  public static final class Builder {
    private final Map<String, Object> config = new LinkedHashMap<>();

    private Builder(String modelPath) {
      config.put("model_path", Objects.requireNonNull(modelPath, "modelPath"));
    }

    /** Context-parallel ranks in this process (1 .. 1024). */
    public Builder worldSize(int n) {
      config.put("world_size", n);
      return this;
    }

    /** Compute threads per rank (0: cores / ranks). */
    public Builder threadsPerRank(int n) {
      config.put("threads_per_rank", n);
      return this;
    }

    /** KV cache budget per rank in bytes (0: the engine's default). */
    public Builder kvBudgetBytes(long bytes) {
      config.put("kv_budget_bytes", bytes);
      return this;
    }

    /**
     * Element type of the KV cache: "Auto" (bf16 on CUDA, f32 on the CPU),
     * "F32" or "BF16" (half the KV memory and ring traffic).
     */
    public Builder kvCacheType(String type) {
      config.put("kv_cache_type", type);
      return this;
    }

    /**
     * Element type of the weight matrices: "Auto" (f32 on the CPU, bf16 on
     * CUDA), "F32" (CPU only), "BF16" (half the weights' memory) or "Q8_0"
     * (CPU only, about 1.1 bytes a weight).
     */
    public Builder weightType(String type) {
      config.put("weight_type", type);
      return this;
    }

    /** Tokens per prefill step (the granularity of progress and cancel). */
    public Builder prefillChunk(long tokens) {
      config.put("prefill_chunk", tokens);
      return this;
    }

    /**
     * A multi-process group: the rendezvous store shared by all ranks
     * ("file:/dir" or "redis://host:port") and this process's rank (0 for
     * the leader, which {@link #build()} starts; 1 .. worldSize-1 for
     * {@link #serve()}).
     */
    public Builder rendezvous(String store, int rank) {
      config.put("rendezvous", store);
      config.put("rank", rank);
      return this;
    }

    /** Forced prefill ring variant (Auto: chosen per step). */
    public Builder cpVariant(CpVariant v) {
      config.put("cp_variant", v.name());
      return this;
    }

    /**
     * Prefix sharing: a new session whose prompt starts with at least this
     * many tokens another session's KV holds copies that KV instead of
     * prefilling it (default 256; 0: off).
     */
    public Builder sharePrefixMinTokens(long tokens) {
      config.put("share_prefix_min_tokens", tokens);
      return this;
    }

    /** Chat template override ("chatml", "llama3", ...). */
    public Builder chatTemplate(String name) {
      config.put("chat_template", name);
      return this;
    }

    /** Any other EngineConfig field, by its schema name. */
    public Builder set(String field, Object value) {
      config.put(field, value);
      return this;
    }

    public String toJson() {
      return Json.write(config);
    }

    /** Loads the model and starts the ranks. */
    public Engine build() throws RingLmException {
      return new Engine(toJson().getBytes(StandardCharsets.UTF_8));
    }

    /** {@link Engine#serve(String)} with this configuration. */
    public void serve() throws RingLmException {
      Engine.serve(toJson());
    }
  }

  long handle() {
    return handle.value;
  }

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return handle.isClosed();
  }

  /** Releases the engine; closing twice is a no-op. */
  @Override
  public void close() throws RingLmException {
    handle.close(cleanable);
  }

  /** The EngineInfo (version, model, ranks, calibration) in its JSON form. */
  public String infoJson() throws RingLmException {
    byte[][] out = new byte[1][];
    CApi.engine_info(handle.value, Format.FORMAT_JSON, out);
    return new String(out[0], StandardCharsets.UTF_8);
  }

  /** The number of CP ranks. */
  public int worldSize() throws RingLmException {
    return (int) Json.longValue(Json.object(Json.parse(infoJson())).get("world_size"));
  }

  /** The model's vocabulary size. */
  public int vocabSize() throws RingLmException {
    Map<String, Object> model = Json.object(Json.object(Json.parse(infoJson())).get("model"));
    return (int) Json.longValue(model.get("vocab"));
  }

  /** Token ids of {@code text} with the model's tokenizer. */
  public int[] tokenize(String text, boolean addSpecial) throws RingLmException {
    int[][] out = new int[1][];
    CApi.engine_tokenize(handle.value, text.getBytes(StandardCharsets.UTF_8), addSpecial ? 1 : 0, out);
    return out[0];
  }

  /** The text of {@code tokens} (an incomplete trailing character becomes U+FFFD). */
  public String detokenize(int[] tokens) throws RingLmException {
    byte[][] out = new byte[1][];
    CApi.engine_detokenize(handle.value, tokens, out);
    return new String(out[0], StandardCharsets.UTF_8);
  }

  /** Opens a session with the default configuration. */
  public Session newSession() throws RingLmException {
    return newSession(null);
  }

  /** Opens a session with a system prompt ({@code null}: none). */
  public Session newSession(String systemPrompt) throws RingLmException {
    byte[] config = null;
    if (systemPrompt != null) {
      config = Json.write(Map.of("system_prompt", systemPrompt)).getBytes(StandardCharsets.UTF_8);
    }
    long[] out = new long[1];
    CApi.session_create(handle.value, config, Format.FORMAT_JSON, out);
    return new Session(this, out[0]);
  }

  /** Opens a session saved by {@link Session#save(Path)}. */
  public Session restoreSession(Path path) throws RingLmException {
    long[] out = new long[1];
    CApi.session_restore(handle.value, Session.pathBytes(path), out);
    return new Session(this, out[0]);
  }

  /**
   * Runs one non-leader rank of a multi-process group until the leader (an
   * Engine built with the same rendezvous and rank 0) is closed. The
   * EngineConfig (JSON form) has a rendezvous and 1 <= rank < world_size.
   * Blocks the calling thread.
   */
  public static void serve(String engineConfigJson) throws RingLmException {
    CApi.engine_serve(engineConfigJson.getBytes(StandardCharsets.UTF_8), Format.FORMAT_JSON);
  }

  /** The library's version, e.g. "0.1.0". */
  public static String version() {
    return CApi.version();
  }
}
