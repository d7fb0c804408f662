package org.ringlm;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Base of the test classes that share one single-rank engine on the real
 * model: opened before the class's tests, closed after them.
 */
abstract class WithEngine {
  static Engine engine;

  @BeforeAll
  static void openEngine() throws RingLmException {
    engine = TestModel.engine(1);
  }

  @AfterAll
  static void closeEngine() throws RingLmException {
    if (engine != null) {
      engine.close();
      engine = null;
    }
  }
}
