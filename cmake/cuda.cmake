# CUDA backend: kernels/cuda/*.cu + engine/backend/cuda/*.cc + engine/comm/nccl/*.cc
# in one static PIC library, ringlm_cuda, linked into ringlm_engine's consumers.
# Included by the top-level CMakeLists.txt once nvcc was found (RINGLM_HAVE_CUDA).
#
# Builds on machines without a GPU (only nvcc and the toolkit's libraries are
# needed); the GPU tests skip there. NCCL is looked for in the toolkit, in
# NCCL_ROOT / RINGLM_NCCL_ROOT, in the system, and in a pip wheel's nvidia/
# folder; without it NcclComm is left out (RINGLM_HAVE_NCCL=0).

set(RINGLM_CUDA_ARCHITECTURES "80;90" CACHE STRING "CUDA architectures of the ringlm kernels")

file(GLOB RINGLM_CUDA_KERNEL_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/kernels/cuda/*.cu)
file(GLOB RINGLM_CUDA_BACKEND_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/engine/backend/cuda/*.cc)
file(GLOB RINGLM_NCCL_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/engine/comm/nccl/*.cc)

# --- NCCL ---
# Header and library from one place: the toolkit / NCCL_ROOT / the system
# first, else the pip wheel (nvidia-nccl-*) of the Python on PATH.
set(_ringlm_nccl_hints $ENV{RINGLM_NCCL_ROOT} $ENV{NCCL_ROOT} ${NCCL_ROOT} ${CUDAToolkit_LIBRARY_ROOT}
    ${CUDAToolkit_TARGET_DIR} /usr/local/cuda)
find_path(RINGLM_NCCL_INCLUDE_DIR nccl.h HINTS ${_ringlm_nccl_hints} ${CUDAToolkit_INCLUDE_DIRS}
          PATH_SUFFIXES include)
find_library(RINGLM_NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${_ringlm_nccl_hints}
             ${CUDAToolkit_LIBRARY_DIR} PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu)
if(NOT RINGLM_NCCL_INCLUDE_DIR OR NOT RINGLM_NCCL_LIBRARY)
  find_package(Python3 COMPONENTS Interpreter QUIET)
  if(Python3_Interpreter_FOUND)
    execute_process(
      COMMAND ${Python3_EXECUTABLE} -c [=[
import glob, os, site
roots = [p for p in site.getsitepackages() + [site.getusersitepackages()] if os.path.isdir(p)]
for r in roots:
    libs = sorted(glob.glob(os.path.join(r, 'nvidia', '**', 'libnccl.so*'), recursive=True))
    incs = sorted(glob.glob(os.path.join(r, 'nvidia', '**', 'nccl.h'), recursive=True))
    if libs and incs:
        print(libs[0] + ';' + os.path.dirname(incs[0]), end='')
        break
]=]
      OUTPUT_VARIABLE _ringlm_pip_nccl ERROR_QUIET)
    if(_ringlm_pip_nccl)
      list(GET _ringlm_pip_nccl 0 _lib)
      list(GET _ringlm_pip_nccl 1 _inc)
      set(RINGLM_NCCL_LIBRARY ${_lib} CACHE FILEPATH "NCCL library" FORCE)
      set(RINGLM_NCCL_INCLUDE_DIR ${_inc} CACHE PATH "NCCL include directory" FORCE)
    endif()
  endif()
endif()
if(RINGLM_NCCL_INCLUDE_DIR AND RINGLM_NCCL_LIBRARY)
  set(RINGLM_HAVE_NCCL ON)
else()
  set(RINGLM_HAVE_NCCL OFF)
  set(RINGLM_NCCL_SOURCES "")
endif()
message(STATUS "ringlm: NCCL ${RINGLM_HAVE_NCCL} (${RINGLM_NCCL_LIBRARY}, ${RINGLM_NCCL_INCLUDE_DIR})")

# --- cuDNN fused attention (optional) ---
# Built when cudnn.h and the cuDNN frontend headers are found
# (scripts/fetch_cudnn_frontend.sh unpacks the frontend into ~/.cache/ringlm).
# libcudnn is not linked: it is opened at run time (dlopen), and without it
# the CUDA backend runs ringlm's own attention kernel.
option(RINGLM_ENABLE_CUDNN "Use cuDNN's fused attention where cuDNN is present" ON)
set(RINGLM_CUDNN_FRONTEND_DIR "$ENV{RINGLM_CUDNN_FRONTEND_DIR}" CACHE PATH
    "Include directory holding cudnn_frontend.h")
if(NOT RINGLM_CUDNN_FRONTEND_DIR)
  set(RINGLM_CUDNN_FRONTEND_DIR "$ENV{HOME}/.cache/ringlm/cudnn-frontend-1.32.0/include"
      CACHE PATH "Include directory holding cudnn_frontend.h" FORCE)
endif()
find_path(RINGLM_CUDNN_INCLUDE_DIR cudnn.h
          HINTS $ENV{RINGLM_CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_INCLUDE_DIRS}
                ${CUDAToolkit_LIBRARY_ROOT} /usr/local/cuda
          PATH_SUFFIXES include)
file(GLOB RINGLM_CUDNN_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/engine/backend/cuda/cudnn/*.cc)
if(RINGLM_ENABLE_CUDNN AND RINGLM_CUDNN_INCLUDE_DIR AND EXISTS "${RINGLM_CUDNN_FRONTEND_DIR}/cudnn_frontend.h")
  set(RINGLM_HAVE_CUDNN ON)
else()
  set(RINGLM_HAVE_CUDNN OFF)
  set(RINGLM_CUDNN_SOURCES "")
endif()
message(STATUS "ringlm: cuDNN attention ${RINGLM_HAVE_CUDNN} (cudnn.h in ${RINGLM_CUDNN_INCLUDE_DIR}, "
               "frontend ${RINGLM_CUDNN_FRONTEND_DIR})")

# --- the library ---
add_library(ringlm_cuda STATIC ${RINGLM_CUDA_KERNEL_SOURCES} ${RINGLM_CUDA_BACKEND_SOURCES}
                               ${RINGLM_NCCL_SOURCES} ${RINGLM_CUDNN_SOURCES})
set_target_properties(ringlm_cuda PROPERTIES
  CUDA_ARCHITECTURES "${RINGLM_CUDA_ARCHITECTURES}"
  CUDA_STANDARD 17
  CUDA_STANDARD_REQUIRED ON
  CUDA_RUNTIME_LIBRARY Shared
  CUDA_SEPARABLE_COMPILATION OFF
  POSITION_INDEPENDENT_CODE ON)
target_compile_options(ringlm_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -lineinfo -Xcompiler=-fPIC>)
target_include_directories(ringlm_cuda PUBLIC ${CMAKE_SOURCE_DIR}/engine ${CMAKE_SOURCE_DIR}/kernels)
target_link_libraries(ringlm_cuda PUBLIC CUDA::cudart CUDA::cublas CUDA::cublasLt)
if(RINGLM_HAVE_NCCL)
  target_include_directories(ringlm_cuda PUBLIC ${RINGLM_NCCL_INCLUDE_DIR})
  target_link_libraries(ringlm_cuda PUBLIC ${RINGLM_NCCL_LIBRARY})
  target_compile_definitions(ringlm_cuda PUBLIC RINGLM_HAVE_NCCL=1)
else()
  target_compile_definitions(ringlm_cuda PUBLIC RINGLM_HAVE_NCCL=0)
endif()
if(RINGLM_HAVE_CUDNN)
  # The frontend is a large header library: its warnings are not ours.
  set_source_files_properties(${RINGLM_CUDNN_SOURCES} PROPERTIES INCLUDE_DIRECTORIES
    "${RINGLM_CUDNN_FRONTEND_DIR};${RINGLM_CUDNN_INCLUDE_DIR}" COMPILE_OPTIONS "-w")
  target_link_libraries(ringlm_cuda PUBLIC ${CMAKE_DL_LIBS})
  target_compile_definitions(ringlm_cuda PUBLIC RINGLM_HAVE_CUDNN=1)
else()
  target_compile_definitions(ringlm_cuda PUBLIC RINGLM_HAVE_CUDNN=0)
endif()
# The backend and comm sources use engine types (Status, Comm, the CPU RoPE
# frequencies); ringlm_engine in turn links ringlm_cuda. CMake resolves this
# cycle between static libraries by repeating them on the link line.
target_link_libraries(ringlm_cuda PRIVATE ringlm_engine)

target_link_libraries(ringlm_engine PUBLIC ringlm_cuda)
target_compile_definitions(ringlm_engine PUBLIC RINGLM_HAVE_CUDA=1)

# GPU benchmarks (tools/gpu/bench_*.cu); run by tools/gpu/run_gpu_checks.sh.
file(GLOB RINGLM_GPU_BENCH_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tools/gpu/bench_*.cu)
foreach(src ${RINGLM_GPU_BENCH_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  set_target_properties(${name} PROPERTIES CUDA_ARCHITECTURES "${RINGLM_CUDA_ARCHITECTURES}"
                                           CUDA_STANDARD 17 CUDA_RUNTIME_LIBRARY Shared)
  target_link_libraries(${name} PRIVATE ringlm_engine)
endforeach()
