package org.ringlm;

import java.util.Map;

/**
 * A generated token's log-probability under the model's distribution (softmax
 * of its logits: before temperature, penalties or truncation), and the most
 * likely alternatives at that step, most likely first ({@code topTokens[i]}
 * with {@code topLogprobs[i]}). Natural logs.
 */
public record TokenLogprob(int token, double logprob, int[] topTokens, double[] topLogprobs) {
  static TokenLogprob fromJson(Object v) {
    Map<String, Object> m = Json.object(v);
    return new TokenLogprob(
        (int) Json.longValue(m.get("token")),
        Json.doubleValue(m.get("logprob")),
        Json.ints(m.get("top_tokens")),
        Json.doubles(m.get("top_logprobs")));
  }
}
