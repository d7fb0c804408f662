package org.ringlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Multi-turn chat on the real model: KV reuse, CP ranks, streaming. */
class ChatTest extends WithEngine {
  @Test
  void versionIsTheLibrarys() {
    assertEquals(org.ringlm.capi.CApi.VERSION, Engine.version());
  }

  @Test
  void threeTurnsReuseTheKv() throws RingLmException {
    List<TestModel.Turn> turns = TestModel.runChat(engine);
    for (int k = 0; k < turns.size(); k++) {
      TurnStats st = turns.get(k).response().stats();
      long before = turns.get(k).before();
      assertEquals(1, st.worldSize());
      assertEquals(turns.get(k).response().tokens().length, st.generatedTokens());
      // P: the whole history was reused; T: only the new message was prefilled.
      assertEquals(before, st.cachedTokens());
      if (k > 0) {
        assertTrue(st.cachedTokens() > 0);
        assertTrue(st.newTokens() > 0 && st.newTokens() < before, "T=" + st.newTokens());
      }
    }
    // Turn 3 asks about turn 1.
    String third = turns.get(2).response().text();
    assertTrue(third.contains("Tom"), third);
  }

  @Test
  void bf16WeightsAreReportedAndChat() throws RingLmException {
    try (Engine e = Engine.builder(TestModel.path()).threadsPerRank(2).weightType("BF16").build();
         Session s = e.newSession()) {
      Object type = Json.object(Json.parse(e.infoJson())).get("weight_type");
      assertEquals("bf16", type);
      ChatResponse r = s.chat(ChatRequest.user(TestModel.TURNS[0]).maxTokens(4)).response();
      assertTrue(r.tokens().length > 0);
    }
  }

  @Test
  void streamsEventsThenTheResponse() throws RingLmException {
    try (Session s = engine.newSession();
         ChatStream stream = s.chat(ChatRequest.user(TestModel.TURNS[0]).maxTokens(TestModel.MAX_TOKENS))) {
      StringBuilder text = new StringBuilder();
      List<Integer> tokens = new ArrayList<>();
      Event.Progress last = null;
      for (Event e : stream) {
        if (e instanceof Event.Text t) {
          text.append(t.text());
          for (int id : t.tokens()) {
            tokens.add(id);
          }
        } else if (e instanceof Event.Progress p) {
          last = p;
        }
      }
      assertNotNull(last);
      assertEquals(last.total(), last.done());
      ChatResponse r = stream.response();
      assertTrue(stream.isDone());
      assertEquals(r.text(), text.toString());
      assertArrayEquals(r.tokens(), tokens.stream().mapToInt(Integer::intValue).toArray());
      assertTrue(r.finishReason() == FinishReason.Length || r.finishReason() == FinishReason.Stop);
    }
  }

  @Test
  void rawJsonRequestsWork() throws RingLmException {
    try (Session a = engine.newSession(); Session b = engine.newSession()) {
      ChatResponse built = a.chat(ChatRequest.user("Hi").maxTokens(3)).response();
      ChatResponse raw = b.chatJson(
          "{\"messages\": [{\"role\": \"User\", \"content\": \"Hi\"}], \"max_tokens\": 3}").response();
      assertArrayEquals(built.tokens(), raw.tokens());
    }
  }

  @Test
  void twoCpRanksGiveIdenticalGreedyTokens() throws RingLmException {
    List<TestModel.Turn> one = TestModel.runChat(engine);
    try (Engine engine2 = TestModel.engine(2)) {
      assertEquals(2, engine2.worldSize());
      List<TestModel.Turn> two = TestModel.runChat(engine2);
      for (int k = 0; k < one.size(); k++) {
        assertArrayEquals(one.get(k).response().tokens(), two.get(k).response().tokens(), "turn " + (k + 1));
        TurnStats st = two.get(k).response().stats();
        assertEquals(2, st.worldSize());
        assertEquals(2, st.kvTokens().length);
        assertTrue(st.kvTokens()[0] > 0 && st.kvTokens()[1] > 0);
        assertEquals(2, st.kvBytes().length);
        assertTrue(st.kvBytes()[0] > 0 && st.kvBytes()[1] > 0);
        assertEquals(two.get(k).before(), st.cachedTokens());
      }
    }
  }

  @Test
  void tokenizeRoundTrips() throws RingLmException {
    int[] ids = engine.tokenize("Hello, world!", false);
    assertTrue(ids.length > 0);
    assertEquals("Hello, world!", engine.detokenize(ids));
  }

  @Test
  void transcriptHoldsTheSystemPrompt() throws RingLmException {
    try (Session s = engine.newSession("You are terse.")) {
      s.chat(ChatRequest.user("Hi").maxTokens(2)).response();
      Transcript t = s.transcript();
      assertEquals(List.of(Role.System, Role.User, Role.Assistant),
          t.messages().stream().map(Message::role).toList());
      assertEquals("You are terse.", t.messages().get(0).content());
      assertTrue(t.tokenCount() > 0);
    }
  }

  @Test
  void generatesFromRawTokens() throws RingLmException {
    int[] ids = engine.tokenize("The capital of France is", false);
    try (Session s = engine.newSession()) {
      ChatResponse r = s.generate(ids, 3).response();
      assertEquals(ids.length, r.stats().newTokens());
      assertEquals(3, r.tokens().length);
    }
  }

  @Test
  void logprobsOfEachToken() throws RingLmException {
    try (Session s = engine.newSession()) {
      ChatResponse r =
          s.chat(ChatRequest.user(TestModel.TURNS[0]).maxTokens(TestModel.MAX_TOKENS).logprobs(3))
              .response();
      assertEquals(r.tokens().length, r.logprobs().size());
      for (int i = 0; i < r.tokens().length; i++) {
        TokenLogprob lp = r.logprobs().get(i);
        assertEquals(r.tokens()[i], lp.token());
        assertTrue(lp.logprob() <= 0);
        assertEquals(3, lp.topTokens().length);
        assertEquals(lp.token(), lp.topTokens()[0]); // greedy: the likeliest
        assertTrue(lp.topLogprobs()[0] >= lp.topLogprobs()[2]);
      }
      assertTrue(s.chat(ChatRequest.user("Hi").maxTokens(2)).response().logprobs().isEmpty());
      assertEquals(Status.INVALID_ARGUMENT,
          assertThrows(RingLmException.class, () -> s.chat(ChatRequest.user("Hi").logprobs(21)))
              .status());
    }
  }

  @Test
  void multiProcessGroupThroughARendezvous(@TempDir Path store) throws Exception {
    Engine.Builder cfg = Engine.builder(TestModel.path()).worldSize(2).threadsPerRank(2)
        .set("comm_timeout_ms", 60000);
    String rendezvous = "file:" + store;
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread rank1 = new Thread(() -> {
      try {
        Engine.builder(TestModel.path()).worldSize(2).threadsPerRank(2).set("comm_timeout_ms", 60000)
            .rendezvous(rendezvous, 1).serve();
      } catch (Throwable t) {
        failure.set(t);
      }
    });
    rank1.start();
    ChatResponse two;
    try (Engine leader = cfg.rendezvous(rendezvous, 0).build(); Session s = leader.newSession()) {
      assertEquals(2, leader.worldSize());
      two = s.chat(ChatRequest.user(TestModel.TURNS[0]).maxTokens(TestModel.MAX_TOKENS)).response();
    } finally {
      rank1.join(120_000);
    }
    assertFalse(rank1.isAlive());
    assertNull(failure.get());
    try (Session s = engine.newSession()) {
      ChatResponse one = s.chat(ChatRequest.user(TestModel.TURNS[0]).maxTokens(TestModel.MAX_TOKENS)).response();
      assertArrayEquals(one.tokens(), two.tokens());
    }
    RingLmException e = assertThrows(RingLmException.class,
        () -> Engine.serve("{\"model_path\": \"x\", \"world_size\": 2, \"rank\": 1}"));
    assertEquals(Status.INVALID_ARGUMENT, e.status());
  }
}
