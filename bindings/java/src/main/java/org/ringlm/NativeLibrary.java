package org.ringlm;

/**
 * Loads the JNI library (libringlm_jni.so, which links libringlm.so) once,
 * from the static initializers of {@link Engine} and the generated
 * {@code org.ringlm.capi.CApiJNI}.
 *
 * <p>The library is looked up as {@code -Dringlm.jni.library=/path/to/libringlm_jni.so}
 * when that property is set, else by name on {@code java.library.path}. When
 * it is missing, the first use of ringlm throws an {@link UnsatisfiedLinkError}
 * that says where it looked and how to fix it.
 */
public final class NativeLibrary {
  /** The library name, as {@code System.loadLibrary} takes it. */
  public static final String NAME = "ringlm_jni";
  /** System property naming the library file explicitly. */
  public static final String PATH_PROPERTY = "ringlm.jni.library";

  private static boolean loaded;

  private NativeLibrary() {}

  /** Loads the library if it is not loaded yet; idempotent and thread-safe. */
  public static synchronized void load() {
    if (loaded) {
      return;
    }
    String path = System.getProperty(PATH_PROPERTY);
    try {
      if (path != null && !path.isEmpty()) {
        System.load(path);
      } else {
        System.loadLibrary(NAME);
      }
    } catch (UnsatisfiedLinkError e) {
      String where = path != null && !path.isEmpty()
          ? PATH_PROPERTY + "=" + path
          : "java.library.path=" + System.getProperty("java.library.path");
      UnsatisfiedLinkError clear = new UnsatisfiedLinkError(
          "ringlm: cannot load the JNI library " + System.mapLibraryName(NAME) + " (looked in "
              + where + "). Build it (cmake --build build --target ringlm_jni) "
              + "and pass -Djava.library.path=<dir with " + System.mapLibraryName(NAME)
              + "> or -D" + PATH_PROPERTY + "=<file>; libringlm.so must be found too (it is, "
              + "through RPATH, next to it).");
      clear.initCause(e);
      throw clear;
    }
    loaded = true;
  }
}
