package org.ringlm;

/**
 * Wraps a {@link RingLmException} where an interface forbids checked
 * exceptions: {@link ChatStream#hasNext()} and {@link ChatStream#next()}
 * (like {@link java.io.UncheckedIOException} for I/O).
 */
public class UncheckedRingLmException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public UncheckedRingLmException(RingLmException cause) {
    super(cause.getMessage(), cause);
  }

  @Override
  public synchronized RingLmException getCause() {
    return (RingLmException) super.getCause();
  }

  /** The status of the wrapped exception. */
  public Status status() {
    return getCause().status();
  }
}
