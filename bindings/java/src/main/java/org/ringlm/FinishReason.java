package org.ringlm;

/** Why generation stopped (the schema's enum names). */
public enum FinishReason {
  /** An end-of-generation token or a stop string. */
  Stop,
  /** max_tokens reached. */
  Length,
  /** {@link Session#cancel()} (or closing the stream early). */
  Cancelled,
  /**
   * The model's context length was reached, or a decode token found no room in any
   * rank's whole KV budget (the session alone fills them all).
   */
  ContextFull;

  static FinishReason parse(String name) {
    for (FinishReason r : values()) {
      if (r.name().equals(name)) {
        return r;
      }
    }
    return Stop;
  }
}
