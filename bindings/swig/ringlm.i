/* ringlm.i: the one SWIG interface of the ringlm language bindings.
 *
 * It wraps the C ABI (capi/include/ringlm/ringlm.h) and nothing else: no C++
 * engine type is visible here. The raw modules it generates are internal to
 * each binding; the idiomatic layers (bindings/python, bindings/java,
 * bindings/go) are what applications use.
 *
 *   Python  ringlm.capi    (swig -python; the GIL is released in every call)
 *   Java    org.ringlm.capi.CApi (swig -java -package org.ringlm.capi)
 *   Go      internal/capi  (the go tool runs swig -go -cgo on capi.swig)
 *
 * Conventions, the same in every language:
 *   - Functions lose the ringlm_ prefix (ringlm_session_chat -> session_chat),
 *     constants lose RINGLM_ (RINGLM_FORMAT_JSON -> FORMAT_JSON).
 *   - Handles are plain integers (Python int, Java long, Go uintptr). The
 *     C ABI never dereferences a handle, so a closed or forged one is a
 *     NOT_FOUND status, never a crash.
 *   - Messages in: any byte buffer; messages out: a fresh byte string (the
 *     library's buffer is copied and freed with ringlm_buffer_free here).
 *   - The trailing `ringlm_error** err` never appears: a failure becomes a
 *     ringlm.Error (Python), a checked RingLmException (Java), or, in Go, the
 *     returned status plus the message written to a *string.
 *   - Streaming is pull-style (session_next_event); the callback variants
 *     (*_stream) are left out, so no SWIG director is needed.
 */

#if defined(SWIGJAVA)
%module CApi
#elif defined(SWIGPYTHON)
%module(package="ringlm", threads="1") capi
#else
%module capi
#endif

%{
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ringlm/ringlm.h"
%}

%include <stdint.i>

/* ------------------------------------------------------------------------
 * What is wrapped
 * ------------------------------------------------------------------------ */
%ignore ringlm_error_status;
%ignore ringlm_error_message;
%ignore ringlm_error_free;
%ignore ringlm_buffer_free;
%ignore ringlm_session_chat_stream;
%ignore ringlm_session_generate_stream;
%ignore ringlm_event_callback;
%ignore RINGLM_MAX_MESSAGE_BYTES;

%rename("%(strip:[ringlm_])s", %$isfunction) "";
%rename("%(strip:[RINGLM_])s", %$isenumitem) "";
%rename("%(strip:[RINGLM_])s", %$isconstant) "";
%rename(StatusCode) ringlm_status_code;
%rename(Format) ringlm_format;
%rename(MessageType) ringlm_message;

/* ========================================================================
 * Python
 * ======================================================================== */
#if defined(SWIGPYTHON)

%{
/* Raises ringlm.errors.error_from_status(status, message) (an instance of
 * the ringlm.Error hierarchy); RuntimeError if that module is unusable. */
static void ringlm_py_raise(ringlm_status status, const char* text) {
  PyObject* message = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
  PyObject* module = message ? PyImport_ImportModule("ringlm.errors") : NULL;
  PyObject* exc = module ? PyObject_CallMethod(module, "error_from_status", "iO", (int)status, message) : NULL;
  if (exc) {
    PyErr_SetObject((PyObject*)Py_TYPE(exc), exc);
  } else if (!PyErr_Occurred()) {
    PyErr_Format(PyExc_RuntimeError, "ringlm status %d: %s", (int)status, text);
  }
  Py_XDECREF(exc);
  Py_XDECREF(module);
  Py_XDECREF(message);
}
%}

/* Status results become exceptions (the ERROR typemap); a call that
 * succeeded returns its outputs, or None. */
%typemap(out) ringlm_status "(void)$1;\n  $result = SWIG_Py_Void();"

%typemap(in, numinputs=0) ringlm_error** ERROR (ringlm_error* e = NULL) "$1 = &e;"
%typemap(argout) ringlm_error** ERROR {
  /* A failure without an error object (none could be allocated) raises too. */
  if (e$argnum || result != RINGLM_STATUS_OK) {
    ringlm_py_raise(e$argnum ? ringlm_error_status(e$argnum) : result,
                    e$argnum ? ringlm_error_message(e$argnum) : "out of memory for the error's details");
    ringlm_error_free(e$argnum);
    e$argnum = NULL;
    Py_XDECREF($result);
    $result = NULL;
    SWIG_fail;
  }
}
%typemap(freearg) ringlm_error** ERROR "ringlm_error_free(e$argnum);"

/* Handles: int in, int out (None for NULL). */
%typemap(in) ringlm_engine*, ringlm_session* {
  if ($input == Py_None) {
    $1 = NULL;
  } else {
    $1 = ($1_ltype)PyLong_AsVoidPtr($input);
    if (PyErr_Occurred()) SWIG_fail;
  }
}
%typemap(in, numinputs=0) ringlm_engine** OUT_HANDLE (ringlm_engine* h = NULL) "$1 = &h;"
%typemap(in, numinputs=0) ringlm_session** OUT_HANDLE (ringlm_session* h = NULL) "$1 = &h;"
%typemap(argout) ringlm_engine** OUT_HANDLE, ringlm_session** OUT_HANDLE {
  if (h$argnum) {
    $result = SWIG_Python_AppendOutput($result, PyLong_FromVoidPtr((void*)h$argnum));
  }
}

/* Byte buffers in: bytes, bytearray, memoryview (any contiguous buffer),
 * str (sent as UTF-8) or None (NULL). */
%define RINGLM_PY_BYTES_IN(PTR_TYPE)
%typemap(in) (PTR_TYPE, size_t LENGTH) (Py_buffer view, int have_view = 0) {
  if ($input == Py_None) {
    $1 = NULL;
    $2 = 0;
  } else if (PyUnicode_Check($input)) {
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize($input, &n);
    if (!s) SWIG_fail;
    $1 = ($1_ltype)s;
    $2 = (size_t)n;
  } else {
    if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) != 0) SWIG_fail;
    have_view = 1;
    $1 = ($1_ltype)view.buf;
    $2 = (size_t)view.len;
  }
}
%typemap(freearg) (PTR_TYPE, size_t LENGTH) "if (have_view$argnum) PyBuffer_Release(&view$argnum);"
%enddef
RINGLM_PY_BYTES_IN(const void* BYTES)
RINGLM_PY_BYTES_IN(const char* TEXT)

/* Byte buffers out: bytes (None when the library returned none, e.g. no
 * event before the timeout). */
%define RINGLM_PY_BYTES_OUT(PTR_TYPE, ELEM)
%typemap(in, numinputs=0) (PTR_TYPE, size_t* OUT_LENGTH) (ELEM* buf = NULL, size_t len = 0) {
  $1 = &buf;
  $2 = &len;
}
%typemap(argout) (PTR_TYPE, size_t* OUT_LENGTH) {
  PyObject* o = NULL;
  if (buf$argnum) {
    o = PyBytes_FromStringAndSize((const char*)buf$argnum, (Py_ssize_t)len$argnum);
    ringlm_buffer_free(buf$argnum);
    buf$argnum = NULL;
    if (!o) SWIG_fail;
  } else {
    o = Py_None;
    Py_INCREF(o);
  }
  $result = SWIG_Python_AppendOutput($result, o);
}
%typemap(freearg) (PTR_TYPE, size_t* OUT_LENGTH) "ringlm_buffer_free(buf$argnum);"
%enddef
RINGLM_PY_BYTES_OUT(void** OUT_BYTES, void)
RINGLM_PY_BYTES_OUT(char** OUT_TEXT, char)

/* Token ids in: any iterable of ints. */
%typemap(in) (const int32_t* TOKENS, size_t LENGTH) (int32_t* ids = NULL) {
  PyObject* seq = PySequence_Fast($input, "token ids must be a sequence of ints");
  if (!seq) SWIG_fail;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  ids = (int32_t*)malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
  if (!ids) {
    Py_DECREF(seq);
    PyErr_NoMemory();
    SWIG_fail;
  }
  for (Py_ssize_t i = 0; i < n; ++i) {
    long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
    if ((v == -1 && PyErr_Occurred()) || v < INT32_MIN || v > INT32_MAX) {
      Py_DECREF(seq);
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_OverflowError, "token id out of int32 range");
      SWIG_fail;
    }
    ids[i] = (int32_t)v;
  }
  Py_DECREF(seq);
  $1 = ids;
  $2 = (size_t)n;
}
%typemap(freearg) (const int32_t* TOKENS, size_t LENGTH) "free(ids$argnum);"

/* Token ids out: a list of ints. */
%typemap(in, numinputs=0) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) (int32_t* ids = NULL, size_t n = 0) {
  $1 = &ids;
  $2 = &n;
}
%typemap(argout) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) {
  PyObject* list = PyList_New((Py_ssize_t)n$argnum);
  if (!list) SWIG_fail;
  for (size_t i = 0; i < n$argnum; ++i) {
    PyObject* v = PyLong_FromLong(ids$argnum[i]);
    if (!v) {
      Py_DECREF(list);
      SWIG_fail;
    }
    PyList_SET_ITEM(list, (Py_ssize_t)i, v);
  }
  $result = SWIG_Python_AppendOutput($result, list);
}
%typemap(freearg) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) "ringlm_buffer_free(ids$argnum);"

#endif  /* SWIGPYTHON */

/* ========================================================================
 * Java
 * ======================================================================== */
#if defined(SWIGJAVA)

/* Enum values and #define constants as compile-time Java ints. */
%include <enumtypeunsafe.swg>
%javaconst(1);

%pragma(java) jniclasscode=%{
  static {
    org.ringlm.NativeLibrary.load();
  }
%}
%pragma(java) moduleclassmodifiers="public final class"
%pragma(java) jniclassclassmodifiers="public final class"

%{
/* Throws org.ringlm.RingLmException.fromNative(status, utf8 message bytes). */
static void ringlm_java_throw(JNIEnv* jenv, ringlm_status status, const char* text) {
  if ((*jenv)->ExceptionCheck(jenv)) return; /* one already pending */
  jsize n = (jsize)strlen(text);
  jbyteArray bytes = (*jenv)->NewByteArray(jenv, n);
  if (!bytes) return;
  (*jenv)->SetByteArrayRegion(jenv, bytes, 0, n, (const jbyte*)text);
  jclass cls = (*jenv)->FindClass(jenv, "org/ringlm/RingLmException");
  if (!cls) return;
  jmethodID make = (*jenv)->GetStaticMethodID(jenv, cls, "fromNative", "(I[B)Lorg/ringlm/RingLmException;");
  if (!make) return;
  jobject exc = (*jenv)->CallStaticObjectMethod(jenv, cls, make, (jint)status, bytes);
  if (exc && !(*jenv)->ExceptionCheck(jenv)) (*jenv)->Throw(jenv, (jthrowable)exc);
}
/* A holder array (T[1]) the caller passes for an output. Without one an
 * IllegalArgumentException is thrown and the output pointer stays NULL (the
 * call then fails with INVALID_ARGUMENT, whose exception is not thrown over
 * the pending one); every freearg still runs. */
static int ringlm_java_check_holder(JNIEnv* jenv, jarray holder) {
  if (!holder || (*jenv)->GetArrayLength(jenv, holder) < 1) {
    if (!(*jenv)->ExceptionCheck(jenv))
      SWIG_JavaThrowException(jenv, SWIG_JavaIllegalArgumentException, "output holder array must have length 1");
    return 0;
  }
  return 1;
}
%}

/* Status results stay ints (0 on return: a failure has thrown). */
%typemap(in, numinputs=0) ringlm_error** ERROR (ringlm_error* e = NULL) "$1 = &e;"
%typemap(argout, throws="org.ringlm.RingLmException") ringlm_error** ERROR {
  /* A failure without an error object (none could be allocated) throws too. */
  if (e$argnum || result != RINGLM_STATUS_OK) {
    ringlm_java_throw(jenv, e$argnum ? ringlm_error_status(e$argnum) : result,
                      e$argnum ? ringlm_error_message(e$argnum) : "out of memory for the error's details");
    ringlm_error_free(e$argnum);
    e$argnum = NULL;
  }
}
%typemap(freearg) ringlm_error** ERROR "ringlm_error_free(e$argnum);"
%typemap(javaout, throws="org.ringlm.RingLmException") ringlm_status { return $jnicall; }

/* Handles: long. */
%typemap(jni) ringlm_engine*, ringlm_session* "jlong"
%typemap(jtype) ringlm_engine*, ringlm_session* "long"
%typemap(jstype) ringlm_engine*, ringlm_session* "long"
%typemap(javain) ringlm_engine*, ringlm_session* "$javainput"
%typemap(in) ringlm_engine*, ringlm_session* "$1 = ($1_ltype)(intptr_t)$input;"

/* Handles out: a long[1] holder. */
%typemap(jni) ringlm_engine** OUT_HANDLE, ringlm_session** OUT_HANDLE "jlongArray"
%typemap(jtype) ringlm_engine** OUT_HANDLE, ringlm_session** OUT_HANDLE "long[]"
%typemap(jstype) ringlm_engine** OUT_HANDLE, ringlm_session** OUT_HANDLE "long[]"
%typemap(javain) ringlm_engine** OUT_HANDLE, ringlm_session** OUT_HANDLE "$javainput"
%typemap(in) ringlm_engine** OUT_HANDLE (ringlm_engine* h = NULL),
             ringlm_session** OUT_HANDLE (ringlm_session* h = NULL) {
  $1 = ringlm_java_check_holder(jenv, $input) ? &h : NULL;
}
%typemap(argout) ringlm_engine** OUT_HANDLE, ringlm_session** OUT_HANDLE {
  if ($1 && !(*jenv)->ExceptionCheck(jenv)) {
    jlong v = (jlong)(intptr_t)h$argnum;
    (*jenv)->SetLongArrayRegion(jenv, $input, 0, 1, &v);
  }
}

/* Byte buffers in: byte[] (null: NULL). */
%define RINGLM_JAVA_BYTES_IN(PTR_TYPE)
%typemap(jni) (PTR_TYPE, size_t LENGTH) "jbyteArray"
%typemap(jtype) (PTR_TYPE, size_t LENGTH) "byte[]"
%typemap(jstype) (PTR_TYPE, size_t LENGTH) "byte[]"
%typemap(javain) (PTR_TYPE, size_t LENGTH) "$javainput"
%typemap(in) (PTR_TYPE, size_t LENGTH) (jbyte* bytes = NULL) {
  $1 = NULL;
  $2 = 0;
  if ($input) {
    bytes = (*jenv)->GetByteArrayElements(jenv, $input, NULL);
    if (!bytes) return $null;
    $1 = ($1_ltype)bytes;
    $2 = (size_t)(*jenv)->GetArrayLength(jenv, $input);
  }
}
%typemap(freearg) (PTR_TYPE, size_t LENGTH) {
  if (bytes$argnum) (*jenv)->ReleaseByteArrayElements(jenv, $input, bytes$argnum, JNI_ABORT);
}
%enddef
RINGLM_JAVA_BYTES_IN(const void* BYTES)
RINGLM_JAVA_BYTES_IN(const char* TEXT)

/* Byte buffers out: a byte[][1] holder (its element null when none). */
%define RINGLM_JAVA_BYTES_OUT(PTR_TYPE, ELEM)
%typemap(jni) (PTR_TYPE, size_t* OUT_LENGTH) "jobjectArray"
%typemap(jtype) (PTR_TYPE, size_t* OUT_LENGTH) "byte[][]"
%typemap(jstype) (PTR_TYPE, size_t* OUT_LENGTH) "byte[][]"
%typemap(javain) (PTR_TYPE, size_t* OUT_LENGTH) "$javainput"
%typemap(in) (PTR_TYPE, size_t* OUT_LENGTH) (ELEM* buf = NULL, size_t len = 0) {
  const int ok = ringlm_java_check_holder(jenv, $input);
  $1 = ok ? &buf : NULL;
  $2 = ok ? &len : NULL;
}
%typemap(argout) (PTR_TYPE, size_t* OUT_LENGTH) {
  jbyteArray arr = NULL;
  if (buf$argnum && !(*jenv)->ExceptionCheck(jenv)) {
    arr = (*jenv)->NewByteArray(jenv, (jsize)len$argnum);
    if (arr) (*jenv)->SetByteArrayRegion(jenv, arr, 0, (jsize)len$argnum, (const jbyte*)buf$argnum);
  }
  if ($1 && !(*jenv)->ExceptionCheck(jenv)) (*jenv)->SetObjectArrayElement(jenv, $input, 0, arr);
}
%typemap(freearg) (PTR_TYPE, size_t* OUT_LENGTH) "ringlm_buffer_free(buf$argnum);"
%enddef
RINGLM_JAVA_BYTES_OUT(void** OUT_BYTES, void)
RINGLM_JAVA_BYTES_OUT(char** OUT_TEXT, char)

/* File paths: byte[] holding UTF-8 (Java's own JNI strings are modified
 * UTF-8), copied with a terminating NUL. */
%typemap(jni) const char* PATH "jbyteArray"
%typemap(jtype) const char* PATH "byte[]"
%typemap(jstype) const char* PATH "byte[]"
%typemap(javain) const char* PATH "$javainput"
%typemap(in) const char* PATH (char* copy = NULL) {
  $1 = NULL;
  if ($input) {
    jsize n = (*jenv)->GetArrayLength(jenv, $input);
    copy = (char*)malloc((size_t)n + 1);
    if (!copy) {
      SWIG_JavaThrowException(jenv, SWIG_JavaOutOfMemoryError, "out of memory for a path");
      return $null;
    }
    (*jenv)->GetByteArrayRegion(jenv, $input, 0, n, (jbyte*)copy);
    copy[n] = '\0';
    $1 = copy;
  }
}
%typemap(freearg) const char* PATH "free(copy$argnum);"

/* Token ids in: int[]. */
%typemap(jni) (const int32_t* TOKENS, size_t LENGTH) "jintArray"
%typemap(jtype) (const int32_t* TOKENS, size_t LENGTH) "int[]"
%typemap(jstype) (const int32_t* TOKENS, size_t LENGTH) "int[]"
%typemap(javain) (const int32_t* TOKENS, size_t LENGTH) "$javainput"
%typemap(in) (const int32_t* TOKENS, size_t LENGTH) (jint* ids = NULL) {
  $1 = NULL;
  $2 = 0;
  if ($input) {
    ids = (*jenv)->GetIntArrayElements(jenv, $input, NULL);
    if (!ids) return $null;
    $1 = ($1_ltype)ids;
    $2 = (size_t)(*jenv)->GetArrayLength(jenv, $input);
  }
}
%typemap(freearg) (const int32_t* TOKENS, size_t LENGTH) {
  if (ids$argnum) (*jenv)->ReleaseIntArrayElements(jenv, $input, ids$argnum, JNI_ABORT);
}

/* Token ids out: an int[][1] holder. */
%typemap(jni) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) "jobjectArray"
%typemap(jtype) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) "int[][]"
%typemap(jstype) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) "int[][]"
%typemap(javain) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) "$javainput"
%typemap(in) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) (int32_t* ids = NULL, size_t n = 0) {
  const int ok = ringlm_java_check_holder(jenv, $input);
  $1 = ok ? &ids : NULL;
  $2 = ok ? &n : NULL;
}
%typemap(argout) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) {
  if ($1 && !(*jenv)->ExceptionCheck(jenv)) {
    jintArray arr = (*jenv)->NewIntArray(jenv, (jsize)n$argnum);
    if (arr) {
      if (n$argnum) (*jenv)->SetIntArrayRegion(jenv, arr, 0, (jsize)n$argnum, (const jint*)ids$argnum);
      (*jenv)->SetObjectArrayElement(jenv, $input, 0, arr);
    }
  }
}
%typemap(freearg) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) "ringlm_buffer_free(ids$argnum);"

#endif  /* SWIGJAVA */

/* ========================================================================
 * Go (cgo). Outputs are pointers the caller passes (nil: not wanted). The
 * wrapper hands C a fresh Go variable of its own (cgo forbids passing C a
 * pointer to memory holding Go pointers, such as a non-empty string), C
 * writes a malloc'd copy of the library's buffer there, and the Go side
 * moves it into Go memory and frees the copy.
 * ======================================================================== */
#if defined(SWIGGO)

%insert(cgo_comment_typedefs) %{
#cgo pkg-config: ringlm
%}

%insert(go_runtime) %{
// ringlmTakeBytes copies n bytes at p (C memory from malloc) into Go
// memory and frees p.
func ringlmTakeBytes(p uintptr, n int) []byte {
	if p == 0 {
		return nil
	}
	b := make([]byte, n)
	if n > 0 {
		copy(b, unsafe.Slice((*byte)(unsafe.Pointer(p)), n))
	}
	Swig_free(p)
	return b
}
%}

%{
/* A C-memory copy of n bytes (never NULL unless out of memory). */
static void* ringlm_go_copy(const void* p, size_t n) {
  void* q = malloc(n ? n : 1);
  if (q && n) memcpy(q, p, n);
  return q;
}
%}

/* Errors: the status is the result, the message goes to *string. */
%typemap(gotype) ringlm_error** ERROR "*string"
%typemap(in) ringlm_error** ERROR (ringlm_error* e = NULL) "$1 = &e;"
%typemap(argout) ringlm_error** ERROR {
  if (e$argnum && $input) {
    const char* m = ringlm_error_message(e$argnum);
    size_t n = strlen(m);
    $input->p = (char*)ringlm_go_copy(m, n);
    $input->n = $input->p ? (intgo)n : 0;
  }
}
%typemap(goin) ringlm_error** ERROR %{
	$result = new(string) // C writes here; never the caller's (maybe non-empty) string
%}
%typemap(goargout) ringlm_error** ERROR %{
	{
		s := *(*struct{ p uintptr; n int })(unsafe.Pointer($input))
		m := string(ringlmTakeBytes(s.p, s.n))
		if $1 != nil {
			*$1 = m
		}
	}
%}
%typemap(freearg) ringlm_error** ERROR "ringlm_error_free(e$argnum);"

/* Handles: uintptr. */
%typemap(gotype) ringlm_engine*, ringlm_session* "uintptr"
%typemap(in) ringlm_engine*, ringlm_session* "$1 = ($1_ltype)$input;"
%typemap(gotype) ringlm_engine** OUT_HANDLE, ringlm_session** OUT_HANDLE "*uintptr"
%typemap(goin) ringlm_engine** OUT_HANDLE, ringlm_session** OUT_HANDLE %{
	$result = new(uintptr)
%}
%typemap(goargout) ringlm_engine** OUT_HANDLE, ringlm_session** OUT_HANDLE %{
	if $1 != nil {
		*$1 = *$input
	}
%}
%typemap(in) ringlm_engine** OUT_HANDLE (ringlm_engine* h = NULL),
             ringlm_session** OUT_HANDLE (ringlm_session* h = NULL) "$1 = &h;"
%typemap(argout) ringlm_engine** OUT_HANDLE, ringlm_session** OUT_HANDLE {
  if ($input) *$input = h$argnum;
}

/* Byte buffers in: []byte; text in: string. */
%typemap(gotype) (const void* BYTES, size_t LENGTH) "[]byte"
%typemap(in) (const void* BYTES, size_t LENGTH) {
  $1 = ($1_ltype)$input.array;
  $2 = (size_t)$input.len;
}
%typemap(gotype) (const char* TEXT, size_t LENGTH) "string"
%typemap(in) (const char* TEXT, size_t LENGTH) {
  $1 = ($1_ltype)$input.p;
  $2 = (size_t)$input.n;
}

/* Byte buffers out: *[]byte (nil when none). */
%define RINGLM_GO_BYTES_OUT(PTR_TYPE, ELEM)
%typemap(gotype) (PTR_TYPE, size_t* OUT_LENGTH) "*[]byte"
%typemap(in) (PTR_TYPE, size_t* OUT_LENGTH) (ELEM* buf = NULL, size_t len = 0) {
  $1 = &buf;
  $2 = &len;
}
%typemap(argout) (PTR_TYPE, size_t* OUT_LENGTH) {
  if ($input) {
    $input->array = buf$argnum ? ringlm_go_copy(buf$argnum, len$argnum) : NULL;
    $input->len = $input->array ? (intgo)len$argnum : 0;
    $input->cap = $input->len;
  }
}
%typemap(goin) (PTR_TYPE, size_t* OUT_LENGTH) %{
	$result = new([]byte)
%}
%typemap(goargout) (PTR_TYPE, size_t* OUT_LENGTH) %{
	{
		s := *(*struct{ p uintptr; n, c int })(unsafe.Pointer($input))
		b := ringlmTakeBytes(s.p, s.n)
		if $1 != nil {
			*$1 = b
		}
	}
%}
%typemap(freearg) (PTR_TYPE, size_t* OUT_LENGTH) "ringlm_buffer_free(buf$argnum);"
%enddef
RINGLM_GO_BYTES_OUT(void** OUT_BYTES, void)
RINGLM_GO_BYTES_OUT(char** OUT_TEXT, char)

/* Token ids in: []int32. */
%typemap(gotype) (const int32_t* TOKENS, size_t LENGTH) "[]int32"
%typemap(in) (const int32_t* TOKENS, size_t LENGTH) {
  $1 = ($1_ltype)$input.array;
  $2 = (size_t)$input.len;
}

/* Token ids out: *[]int32. */
%typemap(gotype) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) "*[]int32"
%typemap(in) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) (int32_t* ids = NULL, size_t n = 0) {
  $1 = &ids;
  $2 = &n;
}
%typemap(argout) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) {
  if ($input) {
    $input->array = n$argnum ? ringlm_go_copy(ids$argnum, n$argnum * sizeof(int32_t)) : NULL;
    $input->len = $input->array ? (intgo)n$argnum : 0;
    $input->cap = $input->len;
  }
}
%typemap(goin) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) %{
	$result = new([]int32)
%}
%typemap(goargout) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) %{
	{
		s := *(*struct{ p uintptr; n, c int })(unsafe.Pointer($input))
		ids := make([]int32, s.n)
		if s.n > 0 {
			copy(ids, unsafe.Slice((*int32)(unsafe.Pointer(s.p)), s.n))
		}
		if s.p != 0 {
			Swig_free(s.p)
		}
		if $1 != nil {
			*$1 = ids
		}
	}
%}
%typemap(freearg) (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) "ringlm_buffer_free(ids$argnum);"

#endif  /* SWIGGO */

/* ------------------------------------------------------------------------
 * The C ABI's parameters, mapped to the shapes the typemaps above define.
 * ------------------------------------------------------------------------ */
%apply (const void* BYTES, size_t LENGTH) {
  (const void* in, size_t in_len),
  (const void* config, size_t config_len),
  (const void* request, size_t request_len)
};
%apply (const char* TEXT, size_t LENGTH) { (const char* text, size_t text_len) };
%apply (void** OUT_BYTES, size_t* OUT_LENGTH) {
  (void** out, size_t* out_len),
  (void** event, size_t* event_len)
};
%apply (char** OUT_TEXT, size_t* OUT_LENGTH) { (char** text, size_t* text_len) };
%apply (const int32_t* TOKENS, size_t LENGTH) { (const int32_t* tokens, size_t n_tokens) };
%apply (int32_t** OUT_TOKENS, size_t* OUT_LENGTH) { (int32_t** tokens, size_t* n_tokens) };
%apply ringlm_engine** OUT_HANDLE { ringlm_engine** out };
%apply ringlm_session** OUT_HANDLE { ringlm_session** out };
%apply ringlm_error** ERROR { ringlm_error** err };
#if defined(SWIGJAVA)
%apply const char* PATH { const char* path };
#endif

/* RINGLM_API expands to a GCC attribute, which SWIG does not parse. */
#define __attribute__(x)
%include "ringlm/ringlm.h"
