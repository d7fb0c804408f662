package org.ringlm;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/** One chat message. */
public record Message(Role role, String content) {
  public Message {
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(content, "content");
  }

  public static Message user(String content) {
    return new Message(Role.User, content);
  }

  public static Message assistant(String content) {
    return new Message(Role.Assistant, content);
  }

  public static Message system(String content) {
    return new Message(Role.System, content);
  }

  Map<String, Object> toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("role", role.name());
    m.put("content", content);
    return m;
  }

  static Message fromJson(Object v) {
    Map<String, Object> m = Json.object(v);
    return new Message(Role.parse(Json.string(m.get("role"))), Json.string(m.get("content")));
  }
}
