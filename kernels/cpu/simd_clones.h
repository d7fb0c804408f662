// RINGLM_SIMD_CLONES: compiles a function for AVX-512 and AVX2 besides the
// x86-64-v2 baseline the build targets; the dynamic loader picks the widest
// the CPU has (GNU ifunc). Off under the sanitizers, whose runtimes do not
// take ifuncs (GCC defines __SANITIZE_*, clang answers __has_feature), and
// off the ELF/x86-64/GCC-compatible toolchains. clang refuses the attribute
// on function templates: put it on plain functions only.
#pragma once

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RINGLM_SIMD_CLONES_OFF 1
#endif
#endif

#if defined(__x86_64__) && defined(__GNUC__) && defined(__ELF__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) && \
    !defined(RINGLM_SIMD_CLONES_OFF)
#define RINGLM_SIMD_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RINGLM_SIMD_CLONES
#endif
