package org.ringlm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Malformed requests and closed handles throw RingLmException, never crash. */
class ErrorTest extends WithEngine {
  @Test
  void malformedRequests() throws RingLmException {
    try (Session s = engine.newSession()) {
      RingLmException e = assertThrows(RingLmException.class, () -> s.chatJson("{not json"));
      assertEquals(Status.CORRUPT_DATA, e.status());
      assertEquals(4, e.statusCode());
      assertThrows(RingLmException.class,
          () -> s.chatJson("{\"messages\": [{\"role\": \"Nobody\", \"content\": \"x\"}]}"));
      e = assertThrows(RingLmException.class, () -> s.chatJson("{\"messages\": []}"));
      assertEquals(Status.INVALID_ARGUMENT, e.status());
      e = assertThrows(RingLmException.class, () -> s.chat(ChatRequest.user("hi").maxTokens(-1)));
      assertEquals(Status.INVALID_ARGUMENT, e.status());
      int vocab = engine.vocabSize();
      e = assertThrows(RingLmException.class, () -> s.generate(new int[] {vocab + 5}, 1));
      assertEquals(Status.INVALID_ARGUMENT, e.status());
      // Still usable.
      assertTrue(s.chat(ChatRequest.user("Hi").maxTokens(2)).response().stats().generatedTokens() > 0);
    }
  }

  @Test
  void requestInFlight() throws RingLmException {
    try (Session s = engine.newSession()) {
      ChatStream stream = s.chat(ChatRequest.user("Count to ten.").maxTokens(4));
      RingLmException e = assertThrows(RingLmException.class, () -> s.chat("again"));
      assertEquals(Status.FAILED_PRECONDITION, e.status());
      assertThrows(RingLmException.class, s::transcript);
      stream.response();
    }
  }

  @Test
  void closedHandles() throws RingLmException {
    Engine e = TestModel.engine(1);
    Session s = e.newSession();
    s.close();
    s.close(); // idempotent
    assertTrue(s.isClosed());
    RingLmException ex = assertThrows(RingLmException.class, () -> s.chat("hello"));
    assertEquals(Status.NOT_FOUND, ex.status());
    assertEquals(Status.NOT_FOUND, assertThrows(RingLmException.class, s::cancel).status());
    e.close();
    e.close();
    assertEquals(Status.NOT_FOUND, assertThrows(RingLmException.class, e::newSession).status());
    assertEquals(Status.NOT_FOUND,
        assertThrows(RingLmException.class, () -> e.tokenize("x", false)).status());
  }

  @Test
  void badEngineConfigs(@TempDir Path tmp) throws IOException {
    RingLmException e = assertThrows(RingLmException.class,
        () -> Engine.builder(tmp.resolve("missing.gguf")).build());
    assertEquals(Status.NOT_FOUND, e.status());
    e = assertThrows(RingLmException.class, () -> Engine.builder(TestModel.path()).worldSize(0).build());
    assertEquals(Status.INVALID_ARGUMENT, e.status());
    Path bad = tmp.resolve("bad.gguf");
    Files.write(bad, new byte[64]);
    assertThrows(RingLmException.class, () -> Engine.builder(bad).build());
    assertThrows(RingLmException.class,
        () -> Engine.builder(TestModel.path()).weightType("Q4_K").build());  // not a WeightType
    e = assertThrows(RingLmException.class, () -> Engine.fromJson("[1, 2"));
    assertEquals(Status.CORRUPT_DATA, e.status());
  }

  @Test
  void statusCodes() {
    assertEquals(Status.OUT_OF_RANGE, Status.of(3));
    assertEquals(Status.UNKNOWN, Status.of(99));
    RingLmException e = RingLmException.fromNative(2, "gone \u00e9".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    assertEquals(Status.NOT_FOUND, e.status());
    assertTrue(e.getMessage().endsWith("gone \u00e9"));
  }
}
