package org.ringlm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The JSON reader and writer the binding uses for the schemas' JSON form (no model needed). */
class JsonTest {
  @Test
  void readsWhatTheLibraryWrites() {
    Map<String, Object> m = Json.object(Json.parse(
        "{\"kind\": \"Text\",\"text\": \"caf\\u00e9 \\\"x\\\"\\n\",\"tokens\": [1, -2],"
            + "\"fp\": 18446744073709551615,\"ms\": 1.5e3,\"ok\": true,\"none\": null,\"bad\": nan,\"big\": -inf}"));
    assertEquals("Text", m.get("kind"));
    assertEquals("caf\u00e9 \"x\"\n", m.get("text"));
    assertEquals(List.of(1L, -2L), m.get("tokens"));
    assertEquals(new BigInteger("18446744073709551615"), m.get("fp"));
    assertEquals(1500.0, m.get("ms"));
    assertEquals(Boolean.TRUE, m.get("ok"));
    assertTrue(m.containsKey("none") && m.get("none") == null);
    assertTrue(Double.isNaN((Double) m.get("bad")));
    assertEquals(Double.NEGATIVE_INFINITY, m.get("big"));
    assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\": 1"));
    assertThrows(IllegalArgumentException.class, () -> Json.parse("[1] x"));
  }

  @Test
  void writesRequests() {
    String json = ChatRequest.user("say \"hi\"\n").maxTokens(4).stop("\u00a7")
        .sampling(Sampling.greedy().withTemperature(0.5).withSeed(-1L)).toJson();
    assertEquals("{\"messages\":[{\"role\":\"User\",\"content\":\"say \\\"hi\\\"\\n\"}],\"max_tokens\":4,"
        + "\"sampling\":{\"temperature\":0.5,\"seed\":18446744073709551615},\"stop\":[\"\u00a7\"],"
        + "\"variant\":\"Auto\"}", json);
    Map<String, Object> back = Json.object(Json.parse(json));
    assertEquals(4L, back.get("max_tokens"));
  }
}
