package org.ringlm;

/** The status codes of the ringlm C ABI ({@code ringlm_status}). */
public enum Status {
  OK(0),
  INVALID_ARGUMENT(1),
  NOT_FOUND(2),
  OUT_OF_RANGE(3),
  CORRUPT_DATA(4),
  UNSUPPORTED(5),
  IO_ERROR(6),
  RESOURCE_EXHAUSTED(7),
  DEADLINE_EXCEEDED(8),
  UNAVAILABLE(9),
  CANCELLED(10),
  FAILED_PRECONDITION(11),
  INTERNAL(12),
  /** A code this binding does not know (a newer library). */
  UNKNOWN(-1);

  private final int code;

  Status(int code) {
    this.code = code;
  }

  /** The numeric code, as the C ABI returns it. */
  public int code() {
    return code;
  }

  /** The Status of a numeric code; {@link #UNKNOWN} for codes not listed. */
  public static Status of(int code) {
    for (Status s : values()) {
      if (s.code == code) {
        return s;
      }
    }
    return UNKNOWN;
  }
}
