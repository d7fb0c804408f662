package org.ringlm;

/** The prefill ring variant a request may force (the schema's enum names). */
public enum CpVariant {
  Auto,
  PassKV,
  PassQ
}
