package org.ringlm;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The result of a request: the whole reply, its tokens, why it stopped, stats,
 * and (when the request asked for them, {@link ChatRequest#logprobs(int)}) a
 * {@link TokenLogprob} per token, else an empty list.
 */
public record ChatResponse(
    String text, int[] tokens, FinishReason finishReason, TurnStats stats,
    List<TokenLogprob> logprobs) {
  static ChatResponse fromJson(Object v) {
    Map<String, Object> m = Json.object(v);
    List<TokenLogprob> logprobs = new ArrayList<>();
    for (Object t : Json.array(m.get("logprobs"))) {
      logprobs.add(TokenLogprob.fromJson(t));
    }
    return new ChatResponse(
        Json.string(m.get("text")),
        Json.ints(m.get("tokens")),
        FinishReason.parse(Json.string(m.get("finish_reason"))),
        TurnStats.fromJson(m.get("stats")),
        List.copyOf(logprobs));
  }
}
