package org.ringlm;

/**
 * What a running request reports before its response: generated text, or
 * prefill progress. {@link ChatStream} yields these; the terminal Done or
 * Error event becomes {@link ChatStream#response()} (or an exception).
 */
public sealed interface Event permits Event.Text, Event.Progress {
  /** A piece of generated text (possibly empty) and the token ids it came from. */
  record Text(String text, int[] tokens) implements Event {}

  /** Prompt tokens prefilled so far out of the request's total. */
  record Progress(long done, long total) implements Event {}
}
