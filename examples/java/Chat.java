// A multi-turn chat with ringlm from Java.
//
//   cmake --build build --target ringlm_java      # build/bindings/java/ringlm.jar, build/lib/libringlm_jni.so
//   java -cp build/bindings/java/ringlm.jar -Djava.library.path=build/lib \
//        examples/java/Chat.java [--model PATH] [--cp N] [--max-tokens N] [--system TEXT]
//
// One user message per line on stdin; each reply streams to stdout as it is
// generated, followed by a line of statistics on stderr. Every turn after the
// first prefills only its new message: the earlier turns stay in the
// session's KV cache.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.ringlm.ChatRequest;
import org.ringlm.ChatResponse;
import org.ringlm.ChatStream;
import org.ringlm.Engine;
import org.ringlm.Event;
import org.ringlm.RingLmException;
import org.ringlm.Session;
import org.ringlm.TurnStats;

public class Chat {
  public static void main(String[] args) throws Exception {
    String model = System.getenv("RINGLM_MODEL");
    if (model == null || model.isEmpty()) {
      model = System.getProperty("user.home") + "/.cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf";
    }
    int cp = 1;
    int maxTokens = 128;
    String system = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--model" -> model = args[++i];
        case "--cp" -> cp = Integer.parseInt(args[++i]);
        case "--max-tokens" -> maxTokens = Integer.parseInt(args[++i]);
        case "--system" -> system = args[++i];
        default -> {
          System.err.println("usage: Chat [--model PATH] [--cp N] [--max-tokens N] [--system TEXT]");
          System.exit(2);
        }
      }
    }

    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    try (Engine engine = Engine.builder(Path.of(model)).worldSize(cp).build();
         Session session = engine.newSession(system)) {
      String line;
      while ((line = in.readLine()) != null) {
        if (line.isBlank()) {
          continue;
        }
        try (ChatStream stream = session.chat(ChatRequest.user(line.strip()).maxTokens(maxTokens))) {
          for (Event event : stream) {
            if (event instanceof Event.Text text) {
              System.out.print(text.text());
              System.out.flush();
            }
          }
          System.out.println();
          ChatResponse r = stream.response();
          TurnStats st = r.stats();
          System.err.printf("[%d new tokens prefilled, %d reused, %d generated at %.1f tok/s, %d rank(s), %s]%n",
              st.newTokens(), st.cachedTokens(), st.generatedTokens(), st.decodeTokS(), st.worldSize(),
              r.finishReason());
        }
      }
    } catch (RingLmException e) {
      System.err.println("chat: " + e.getMessage());
      System.exit(1);
    }
  }
}
