package org.ringlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Cancellation from another thread, save/restore, many sessions at once. */
class SessionTest extends WithEngine {
  @Test
  void cancelFromAnotherThread() throws Exception {
    try (Session s = engine.newSession()) {
      ChatStream stream = s.chat(ChatRequest.user("Tell me a long story about a dragon.").maxTokens(200));
      Thread canceller = null;
      for (Event e : stream) {
        if (e instanceof Event.Text && canceller == null) {
          canceller = new Thread(() -> {
            try {
              s.cancel();
            } catch (RingLmException ex) {
              throw new UncheckedRingLmException(ex);
            }
          });
          canceller.start();
        }
      }
      canceller.join();
      ChatResponse r = stream.response();
      assertEquals(FinishReason.Cancelled, r.finishReason());
      assertTrue(r.stats().generatedTokens() > 0 && r.stats().generatedTokens() < 200);
      ChatResponse next = s.chat(ChatRequest.user("Hi").maxTokens(2)).response();
      assertNotEquals(FinishReason.Cancelled, next.finishReason());
    }
  }

  @Test
  void closingAStreamEarlyCancelsIt() throws RingLmException {
    try (Session s = engine.newSession()) {
      ChatStream stream = s.chat(ChatRequest.user("Tell me a long story.").maxTokens(200));
      try (stream) {
        stream.next();
      }
      assertTrue(stream.isDone());
      assertEquals(FinishReason.Cancelled, stream.response().finishReason());
      assertTrue(s.chat(ChatRequest.user("Hi").maxTokens(2)).response().stats().generatedTokens() > 0);
    }
  }

  /**
   * {@code b} (restored or forked from {@code a}) holds a's transcript and
   * answers the next turn as a does, from a KV of its own.
   */
  private static void assertContinueAlike(Session a, Session b) throws RingLmException {
    assertEquals(a.transcript(), b.transcript());
    ChatResponse ra = a.chat(ChatRequest.user(TestModel.TURNS[2]).maxTokens(TestModel.MAX_TOKENS)).response();
    ChatResponse rb = b.chat(ChatRequest.user(TestModel.TURNS[2]).maxTokens(TestModel.MAX_TOKENS)).response();
    assertArrayEquals(ra.tokens(), rb.tokens());
    assertEquals(ra.stats().cachedTokens(), rb.stats().cachedTokens());
    assertTrue(rb.stats().cachedTokens() > 0);
    assertFalse(rb.stats().rebuilt());
  }

  @Test
  void saveAndRestore(@TempDir Path tmp) throws RingLmException {
    Path file = tmp.resolve("chat.session");
    try (Session a = engine.newSession()) {
      a.chat(ChatRequest.user(TestModel.TURNS[0]).maxTokens(TestModel.MAX_TOKENS)).response();
      a.save(file);
      assertTrue(Files.exists(file));
      try (Session b = engine.restoreSession(file)) {
        assertContinueAlike(a, b);
      }
    }
  }

  @Test
  void rewindRegeneratesFromTheCachedPrefix() throws RingLmException {
    try (Session s = engine.newSession()) {
      s.chat(ChatRequest.user(TestModel.TURNS[0]).maxTokens(TestModel.MAX_TOKENS)).response();
      ChatResponse first =
          s.chat(ChatRequest.user(TestModel.TURNS[2]).maxTokens(TestModel.MAX_TOKENS)).response();
      Transcript before = s.transcript();
      assertEquals(4, before.messages().size());
      s.rewind(2);
      assertEquals(before.messages().subList(0, 2), s.transcript().messages());
      ChatResponse again =
          s.chat(ChatRequest.user(TestModel.TURNS[2]).maxTokens(TestModel.MAX_TOKENS)).response();
      assertArrayEquals(first.tokens(), again.tokens());
      assertTrue(again.stats().cachedTokens() >= first.stats().cachedTokens());
      assertEquals(Status.OUT_OF_RANGE,
          assertThrows(RingLmException.class, () -> s.rewind(5)).status());
      s.rewindTokens(0);
      assertEquals(0, s.transcript().tokenCount());
    }
  }

  @Test
  void forkContinuesOnItsOwnKv() throws RingLmException {
    Session a = engine.newSession();
    try {
      a.chat(ChatRequest.user(TestModel.TURNS[0]).maxTokens(TestModel.MAX_TOKENS)).response();
      try (Session b = a.fork()) {
        assertContinueAlike(a, b);
        a.close();
        assertEquals(4, b.transcript().messages().size());
      }
    } finally {
      a.close(); // a second close is a no-op
    }
  }

  @Test
  void prefixSharingBetweenSessions() throws RingLmException {
    String system = "You answer questions about this text. " + "The quick brown fox jumps. ".repeat(8);
    try (Engine e = Engine.builder(TestModel.path()).worldSize(2).threadsPerRank(2)
             .sharePrefixMinTokens(16).build();
         Session a = e.newSession(system);
         Session b = e.newSession(system)) {
      ChatResponse ra = a.chat(ChatRequest.user(TestModel.TURNS[0]).maxTokens(TestModel.MAX_TOKENS)).response();
      ChatResponse rb = b.chat(ChatRequest.user(TestModel.TURNS[0]).maxTokens(TestModel.MAX_TOKENS)).response();
      assertEquals(0, ra.stats().sharedTokens());
      assertTrue(rb.stats().sharedTokens() > 16);
      assertArrayEquals(ra.tokens(), rb.tokens());
    }
  }

  @Test
  void restoreErrors(@TempDir Path tmp) throws IOException {
    assertEquals(Status.NOT_FOUND,
        assertThrows(RingLmException.class, () -> engine.restoreSession(tmp.resolve("nope"))).status());
    Path junk = tmp.resolve("junk");
    Files.writeString(junk, "not a session file at all".repeat(10));
    assertEquals(Status.CORRUPT_DATA,
        assertThrows(RingLmException.class, () -> engine.restoreSession(junk)).status());
  }

  @Test
  void manySessionsFromManyThreads() throws Exception {
    int n = 6;
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<Future<ChatResponse[]>> futures = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String prompt = "Say the number " + (i % 3) + ".";
        futures.add(pool.submit(() -> {
          try (Session s = engine.newSession()) {
            ChatResponse first = s.chat(ChatRequest.user(prompt).maxTokens(3)).response();
            ChatResponse second = s.chat(ChatRequest.user("Thanks.").maxTokens(2)).response();
            return new ChatResponse[] {first, second};
          }
        }));
      }
      List<ChatResponse[]> results = new ArrayList<>();
      for (Future<ChatResponse[]> f : futures) {
        results.add(f.get());
      }
      for (int i = 0; i < n; i++) {
        assertTrue(results.get(i)[0].stats().generatedTokens() > 0);
        assertTrue(results.get(i)[1].stats().cachedTokens() > 0);
        assertArrayEquals(results.get(i % 3)[0].tokens(), results.get(i)[0].tokens());
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
