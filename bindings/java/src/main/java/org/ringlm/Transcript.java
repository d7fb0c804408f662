package org.ringlm;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A session's conversation so far and the tokens of history it holds. */
public record Transcript(List<Message> messages, long tokenCount) {
  static Transcript fromJson(Object v) {
    Map<String, Object> m = Json.object(v);
    List<Message> msgs = new ArrayList<>();
    for (Object x : Json.array(m.get("messages"))) {
      msgs.add(Message.fromJson(x));
    }
    return new Transcript(List.copyOf(msgs), Json.longValue(m.get("token_count")));
  }
}
