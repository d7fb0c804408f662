package org.ringlm;

import java.util.Map;

/**
 * Statistics of one request: T ({@link #newTokens}) tokens prefilled, P
 * ({@link #cachedTokens}) reused from the session's KV cache, on
 * {@link #worldSize} CP ranks. {@link #kvBytes}: the bytes each rank's KV
 * store holds (all its sessions). {@link #sharedTokens}: of the cached
 * tokens, those copied from another session's KV (prefix sharing).
 */
public record TurnStats(
    int worldSize,
    String variant,
    String decodeVariant,
    long newTokens,
    long cachedTokens,
    long generatedTokens,
    double prefillMs,
    double decodeMs,
    double prefillTokS,
    double decodeTokS,
    double commHiddenMs,
    double commExposedMs,
    long[] bytesSent,
    long[] kvTokens,
    int evictions,
    boolean rebuilt,
    long[] kvBytes,
    long sharedTokens) {

  static TurnStats fromJson(Object v) {
    Map<String, Object> m = Json.object(v);
    return new TurnStats(
        (int) Json.longValue(m.get("world_size")),
        Json.string(m.get("variant")),
        Json.string(m.get("decode_variant")),
        Json.longValue(m.get("new_tokens")),
        Json.longValue(m.get("cached_tokens")),
        Json.longValue(m.get("generated_tokens")),
        Json.doubleValue(m.get("prefill_ms")),
        Json.doubleValue(m.get("decode_ms")),
        Json.doubleValue(m.get("prefill_tok_s")),
        Json.doubleValue(m.get("decode_tok_s")),
        Json.doubleValue(m.get("comm_hidden_ms")),
        Json.doubleValue(m.get("comm_exposed_ms")),
        Json.longs(m.get("bytes_sent")),
        Json.longs(m.get("kv_tokens")),
        (int) Json.longValue(m.get("evictions")),
        Boolean.TRUE.equals(m.get("rebuilt")),
        Json.longs(m.get("kv_bytes")),
        Json.longValue(m.get("shared_tokens")));
  }
}
