package org.ringlm;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Token sampling parameters; the defaults are greedy decoding. Immutable:
 * every {@code withX} returns a copy.
 */
public final class Sampling {
  private final Map<String, Object> fields;

  private Sampling(Map<String, Object> fields) {
    this.fields = fields;
  }

  /** Greedy decoding (temperature 0). */
  public static Sampling greedy() {
    return new Sampling(new LinkedHashMap<>());
  }

  private Sampling with(String key, Object value) {
    Map<String, Object> copy = new LinkedHashMap<>(fields);
    copy.put(key, value);
    return new Sampling(copy);
  }

  public Sampling withTemperature(double t) {
    return with("temperature", t);
  }

  public Sampling withTopK(int k) {
    return with("top_k", k);
  }

  public Sampling withTopP(double p) {
    return with("top_p", p);
  }

  public Sampling withMinP(double p) {
    return with("min_p", p);
  }

  public Sampling withRepetitionPenalty(double penalty) {
    return with("repetition_penalty", penalty);
  }

  public Sampling withRepetitionWindow(int tokens) {
    return with("repetition_window", tokens);
  }

  /** The seed; FlatBuffers' ulong, given here as a long read unsigned. */
  public Sampling withSeed(long seed) {
    return with("seed", Long.toUnsignedString(seed));
  }

  Map<String, Object> toJson() {
    Map<String, Object> m = new LinkedHashMap<>(fields);
    Object seed = m.get("seed");
    if (seed instanceof String s) {
      m.put("seed", new java.math.BigInteger(s));
    }
    return m;
  }
}
