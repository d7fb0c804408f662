package org.ringlm;

import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * The events of one request, then its response.
 *
 * <pre>{@code
 * try (ChatStream stream = session.chat("Hi")) {
 *   for (Event e : stream) {
 *     if (e instanceof Event.Text t) System.out.print(t.text());
 *   }
 *   ChatResponse r = stream.response();
 * }
 * }</pre>
 *
 * <p>Iteration yields {@link Event.Text} and {@link Event.Progress} values
 * and ends when the request ends. A failed request (an Error event) or a
 * failed native call surfaces as an {@link UncheckedRingLmException} from
 * {@link #hasNext()}, and as the checked {@link RingLmException} from
 * {@link #response()}. A failed pull that leaves the request running (out of
 * memory for the event, which stays queued) does not end the stream: a
 * later call pulls again, and {@link #close()} still cancels and drains it.
 * Event kinds newer than this binding are skipped. Closing the stream
 * before its end cancels the
 * request and waits for it, so the session is ready for the next turn. An
 * interrupt of the iterating thread cancels the request too (the
 * interrupt flag is kept). One-shot: {@link #iterator()} returns this.
 */
public final class ChatStream implements Iterator<Event>, Iterable<Event>, AutoCloseable {
  /** How long one wait for an event lasts before the thread's interrupt flag is checked. */
  private static final int POLL_MS = 200;

  private final Session session;
  private Event pending;
  private ChatResponse response;
  private RingLmException error;
  private boolean done;
  private boolean cancelRequested;

  ChatStream(Session session) {
    this.session = session;
  }

  @Override
  public Iterator<Event> iterator() {
    return this;
  }

  @Override
  public synchronized boolean hasNext() {
    if (pending != null) {
      return true;
    }
    if (done) {
      if (error != null) {
        throw new UncheckedRingLmException(error);
      }
      return false;
    }
    try {
      pending = pull();
    } catch (RingLmException e) {
      if (!done && requestRunning(e)) {
        throw new UncheckedRingLmException(e);  // the stream goes on: a later call pulls again
      }
      done = true;
      error = e;
    }
    if (error != null) {
      throw new UncheckedRingLmException(error);
    }
    return pending != null;
  }

  @Override
  public synchronized Event next() {
    if (!hasNext()) {
      throw new NoSuchElementException("the request has ended");
    }
    Event e = pending;
    pending = null;
    return e;
  }

  /**
   * Whether a failed pull left the request running: every status but the
   * ones that say the session or its request is gone.
   */
  private static boolean requestRunning(RingLmException e) {
    Status s = e.status();
    return s != Status.NOT_FOUND && s != Status.CANCELLED && s != Status.FAILED_PRECONDITION
        && s != Status.INVALID_ARGUMENT;
  }

  /** Pulls until a non-terminal event (returned) or the end (null). */
  private Event pull() throws RingLmException {
    while (true) {
      if (Thread.currentThread().isInterrupted() && !cancelRequested) {
        cancelRequested = true;
        session.cancel();
      }
      String json = session.nextEventJson(POLL_MS);
      if (json == null) {
        continue;
      }
      Map<String, Object> ev = Json.object(Json.parse(json));
      switch (Json.string(ev.get("kind"))) {
        case "Text":
          return new Event.Text(Json.string(ev.get("text")), Json.ints(ev.get("tokens")));
        case "Progress":
          return new Event.Progress(Json.longValue(ev.get("prefill_done")),
              Json.longValue(ev.get("prefill_total")));
        case "Done":
          done = true;
          response = ChatResponse.fromJson(ev.get("response"));
          return null;
        case "Error":
          done = true;
          throw new RingLmException((int) Json.longValue(ev.get("status")),
              Json.string(ev.get("message")));
        default: // a kind newer than this binding: not terminal
          continue;
      }
    }
  }

  /**
   * Consumes the remaining events and returns the response; throws the
   * request's error if it failed.
   */
  public synchronized ChatResponse response() throws RingLmException {
    try {
      while (hasNext()) {
        next();
      }
    } catch (UncheckedRingLmException e) {
      throw e.getCause();
    }
    return response;
  }

  /** Whether the request has ended. */
  public synchronized boolean isDone() {
    return done && pending == null;
  }

  /** Asks the request to stop (any thread); iteration then ends soon. */
  public void cancel() throws RingLmException {
    session.cancel();
  }

  /** Cancels the request if it is still running and waits for its end. */
  @Override
  public synchronized void close() throws RingLmException {
    if (done) {
      return;
    }
    session.cancel();
    pending = null;
    try {
      while (!done) {
        pull();
      }
    } catch (RingLmException e) {
      if (e.status() != Status.CANCELLED) {
        throw e;
      }
    }
  }
}
