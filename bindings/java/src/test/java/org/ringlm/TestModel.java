package org.ringlm;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The real model the tests run on, and a few shared helpers. */
final class TestModel {
  static final String[] TURNS = {"My cat is called Tom.", "What is 2+2?", "What is my cat called?"};
  static final int MAX_TOKENS = 8;

  private TestModel() {}

  /** RINGLM_MODEL, -Dringlm.model, or the default model; skips the test when missing. */
  static Path path() {
    String p = System.getProperty("ringlm.model");
    if (p == null || p.isEmpty()) {
      p = System.getenv("RINGLM_MODEL");
    }
    if (p == null || p.isEmpty()) {
      p = System.getProperty("user.home") + "/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf";
    }
    Path path = Path.of(p);
    assumeTrue(Files.exists(path), "model " + path + " not found (scripts/fetch_model.sh, or set RINGLM_MODEL)");
    return path;
  }

  static Engine engine(int worldSize) throws RingLmException {
    return Engine.builder(path()).worldSize(worldSize).threadsPerRank(2).build();
  }

  /** One chat turn's response and the history tokens before it. */
  record Turn(ChatResponse response, long before) {}

  static List<Turn> runChat(Engine engine) throws RingLmException {
    List<Turn> out = new ArrayList<>();
    try (Session s = engine.newSession()) {
      for (String text : TURNS) {
        long before = s.transcript().tokenCount();
        out.add(new Turn(s.chat(ChatRequest.user(text).maxTokens(MAX_TOKENS)).response(), before));
      }
    }
    return out;
  }
}
