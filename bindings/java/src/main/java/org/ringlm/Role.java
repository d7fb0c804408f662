package org.ringlm;

/** Who wrote a chat message (the schema's enum names). */
public enum Role {
  User,
  Assistant,
  System;

  static Role parse(String name) {
    for (Role r : values()) {
      if (r.name().equals(name)) {
        return r;
      }
    }
    return User;
  }
}
