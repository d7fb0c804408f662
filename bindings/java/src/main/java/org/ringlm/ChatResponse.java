package org.ringlm;

import java.util.Map;

/** The result of a request: the whole reply, its tokens, why it stopped, stats. */
public record ChatResponse(String text, int[] tokens, FinishReason finishReason, TurnStats stats) {
  static ChatResponse fromJson(Object v) {
    Map<String, Object> m = Json.object(v);
    return new ChatResponse(
        Json.string(m.get("text")),
        Json.ints(m.get("tokens")),
        FinishReason.parse(Json.string(m.get("finish_reason"))),
        TurnStats.fromJson(m.get("stats")));
  }
}
