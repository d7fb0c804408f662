package org.ringlm;

import java.nio.charset.StandardCharsets;

/**
 * A ringlm failure: the C ABI's status code and its message. Every native
 * call that fails, and every request that ends with an Error event, throws
 * one.
 */
public class RingLmException extends Exception {
  private static final long serialVersionUID = 1L;

  private final int statusCode;

  public RingLmException(int statusCode, String message) {
    super(Status.of(statusCode) + ": " + message);
    this.statusCode = statusCode;
  }

  /** The status as an enum ({@link Status#UNKNOWN} for a code it lacks). */
  public Status status() {
    return Status.of(statusCode);
  }

  /** The numeric status code (1 .. 12, never 0). */
  public int statusCode() {
    return statusCode;
  }

  /** Called by the JNI layer: the message comes as UTF-8 bytes. */
  public static RingLmException fromNative(int statusCode, byte[] utf8Message) {
    return new RingLmException(statusCode, new String(utf8Message, StandardCharsets.UTF_8));
  }
}
