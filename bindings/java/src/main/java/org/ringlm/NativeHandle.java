package org.ringlm;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A native handle released exactly once: by its owner's {@code close()},
 * which reports a failure, or, when the owner is collected unclosed, by the
 * {@link Cleaner}, which ignores one (the handle may already be gone).
 *
 * <p>The release action must not refer to the owner, or the owner would
 * never become unreachable.
 */
final class NativeHandle implements Runnable {
  /** Frees a native handle. */
  interface Release {
    void release(long handle) throws RingLmException;
  }

  final long value;
  private final Release release;
  private final AtomicBoolean closed = new AtomicBoolean();

  NativeHandle(long value, Release release) {
    this.value = value;
    this.release = release;
  }

  boolean isClosed() {
    return closed.get();
  }

  /** The Cleaner's action: releases an unclosed handle, ignoring failures. */
  @Override
  public void run() {
    if (closed.compareAndSet(false, true)) { // one release, whichever thread comes first
      try {
        release.release(value);
      } catch (RingLmException ignored) {
        // already gone
      }
    }
  }

  /**
   * The owner's close(): a no-op once closed; otherwise unregisters {@code
   * cleanable} (this handle's registration) and releases the handle.
   */
  void close(Cleaner.Cleanable cleanable) throws RingLmException {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    cleanable.clean(); // runs run(), a no-op now that closed is set
    release.release(value);
  }
}
