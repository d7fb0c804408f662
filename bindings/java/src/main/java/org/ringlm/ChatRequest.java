package org.ringlm;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One chat turn: the new messages (usually one user message) and how to
 * generate the reply. A builder over the ChatRequest schema's JSON form:
 *
 * <pre>{@code
 * ChatRequest.user("Hello!").maxTokens(32).stop("\n\n")
 * }</pre>
 */
public final class ChatRequest {
  private final List<Message> messages = new ArrayList<>();
  private int maxTokens = 256;
  private Sampling sampling;
  private final List<String> stop = new ArrayList<>();
  private CpVariant variant = CpVariant.Auto;
  private boolean logprobs;
  private int topLogprobs;

  public ChatRequest() {}

  /** A request with one user message. */
  public static ChatRequest user(String content) {
    return new ChatRequest().message(Message.user(content));
  }

  public ChatRequest message(Message m) {
    messages.add(Objects.requireNonNull(m, "message"));
    return this;
  }

  public ChatRequest message(Role role, String content) {
    return message(new Message(role, content));
  }

  /** Most tokens to generate (>= 0; the default is 256). */
  public ChatRequest maxTokens(int n) {
    maxTokens = n;
    return this;
  }

  public ChatRequest sampling(Sampling s) {
    sampling = s;
    return this;
  }

  /** Generation stops before the first occurrence of any of these strings. */
  public ChatRequest stop(String... strings) {
    stop.addAll(Arrays.asList(strings));
    return this;
  }

  public ChatRequest variant(CpVariant v) {
    variant = Objects.requireNonNull(v, "variant");
    return this;
  }

  /**
   * Each generated token's log-probability in {@link ChatResponse#logprobs()},
   * with its {@code top} (0 to 20) likeliest alternatives.
   */
  public ChatRequest logprobs(int top) {
    logprobs = true;
    topLogprobs = top;
    return this;
  }

  public List<Message> messages() {
    return List.copyOf(messages);
  }

  /** The request in the schema's JSON form, as the C ABI takes it. */
  public String toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    List<Object> msgs = new ArrayList<>();
    for (Message x : messages) {
      msgs.add(x.toJson());
    }
    m.put("messages", msgs);
    m.put("max_tokens", maxTokens);
    if (sampling != null) {
      m.put("sampling", sampling.toJson());
    }
    if (!stop.isEmpty()) {
      m.put("stop", stop);
    }
    m.put("variant", variant.name());
    if (logprobs) {
      m.put("logprobs", true);
      m.put("top_logprobs", topLogprobs);
    }
    return Json.write(m);
  }

  @Override
  public String toString() {
    return toJson();
  }
}
