# The C ABI: libringlm.so (target ringlm_capi: capi/src over the static ringlm_engine), its
# install rules (header, schemas, generated schema headers, pkg-config file,
# CMake package) and the schema text the library embeds for JSON messages.
# Included by the top-level CMakeLists.txt.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The ABI number (SOVERSION): 0 for 0.x; raised only on incompatible changes.
set(RINGLM_ABI_VERSION 0)

# The header's version macros must say what the project says.
file(STRINGS ${CMAKE_SOURCE_DIR}/capi/include/ringlm/ringlm.h _ringlm_header_version
     REGEX "^#define RINGLM_(VERSION|ABI_VERSION) ")
if(NOT _ringlm_header_version MATCHES "RINGLM_VERSION \"${PROJECT_VERSION}\""
   OR NOT _ringlm_header_version MATCHES "RINGLM_ABI_VERSION ${RINGLM_ABI_VERSION}")
  message(FATAL_ERROR "capi/include/ringlm/ringlm.h: RINGLM_VERSION / RINGLM_ABI_VERSION do not match "
                      "the project version ${PROJECT_VERSION} / ABI ${RINGLM_ABI_VERSION}")
endif()

file(GLOB RINGLM_CAPI_SCHEMAS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/capi/schemas/*.fbs)
set(RINGLM_CAPI_SCHEMA_HEADERS)
foreach(fbs ${RINGLM_CAPI_SCHEMAS})
  get_filename_component(stem ${fbs} NAME_WE)
  list(APPEND RINGLM_CAPI_SCHEMA_HEADERS ${CMAKE_BINARY_DIR}/generated/ringlm/${stem}_generated.h)
endforeach()

set(RINGLM_SCHEMA_TEXT_CC ${CMAKE_BINARY_DIR}/generated/capi/schema_text.cc)
string(REPLACE ";" "|" _ringlm_schema_arg "${RINGLM_CAPI_SCHEMAS}")
add_custom_command(
  OUTPUT ${RINGLM_SCHEMA_TEXT_CC}
  COMMAND ${CMAKE_COMMAND} -DOUT=${RINGLM_SCHEMA_TEXT_CC} -DSCHEMAS=${_ringlm_schema_arg}
          -P ${CMAKE_SOURCE_DIR}/capi/embed_schemas.cmake
  DEPENDS ${RINGLM_CAPI_SCHEMAS} ${CMAKE_SOURCE_DIR}/capi/embed_schemas.cmake
  COMMENT "Embedding the C ABI schemas"
  VERBATIM)

file(GLOB RINGLM_CAPI_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/capi/src/*.cc)
set(RINGLM_VERSION_SCRIPT ${CMAKE_SOURCE_DIR}/capi/ringlm.map)

add_library(ringlm_capi SHARED ${RINGLM_CAPI_SOURCES} ${RINGLM_SCHEMA_TEXT_CC})
add_dependencies(ringlm_capi ringlm_schemas)
target_include_directories(ringlm_capi
  PUBLIC $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/capi/include>
         $<BUILD_INTERFACE:${CMAKE_BINARY_DIR}/generated>
         $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
  PRIVATE ${CMAKE_SOURCE_DIR}/capi/src)
target_link_libraries(ringlm_capi PRIVATE ringlm_engine)
target_compile_definitions(ringlm_capi PRIVATE RINGLM_BUILDING_LIBRARY)
set_target_properties(ringlm_capi PROPERTIES
  C_VISIBILITY_PRESET hidden
  CXX_VISIBILITY_PRESET hidden
  VISIBILITY_INLINES_HIDDEN ON
  OUTPUT_NAME ringlm
  EXPORT_NAME ringlm
  VERSION ${PROJECT_VERSION}
  SOVERSION ${RINGLM_ABI_VERSION}
  LINK_DEPENDS ${RINGLM_VERSION_SCRIPT})
# Only ringlm_* leaves the library: the version script hides everything else,
# the static engine's symbols included; every dependency must resolve now.
target_link_options(ringlm_capi PRIVATE "LINKER:--version-script=${RINGLM_VERSION_SCRIPT}"
                    "LINKER:--exclude-libs,ALL" "LINKER:--no-undefined" "LINKER:-z,defs")

# --- install: cmake --install <build> --prefix <dir> [--component ringlm] ---
install(TARGETS ringlm_capi EXPORT ringlmTargets COMPONENT ringlm
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${CMAKE_SOURCE_DIR}/capi/include/ringlm/ringlm.h ${RINGLM_CAPI_SCHEMA_HEADERS}
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ringlm COMPONENT ringlm)
install(FILES ${RINGLM_CAPI_SCHEMAS} DESTINATION ${CMAKE_INSTALL_DATADIR}/ringlm/schemas
        COMPONENT ringlm)

# pkg-config: relocatable (the prefix is found from the .pc file's place).
file(RELATIVE_PATH RINGLM_PC_PREFIX_FROM_PCDIR "/ringlm-root/${CMAKE_INSTALL_LIBDIR}/pkgconfig"
     "/ringlm-root")
string(REGEX REPLACE "/$" "" RINGLM_PC_PREFIX_FROM_PCDIR "${RINGLM_PC_PREFIX_FROM_PCDIR}")
set(RINGLM_PC_LIBS_PRIVATE "-lgloo -lhiredis")
if(RINGLM_HAVE_CUDA)
  string(APPEND RINGLM_PC_LIBS_PRIVATE " -L${CUDAToolkit_LIBRARY_DIR} -lcublasLt -lcublas -lcudart")
  if(RINGLM_HAVE_NCCL)
    string(APPEND RINGLM_PC_LIBS_PRIVATE " ${RINGLM_NCCL_LIBRARY}")
  endif()
endif()
string(APPEND RINGLM_PC_LIBS_PRIVATE " -lgomp -lpthread -lstdc++ -lm")
configure_file(${CMAKE_SOURCE_DIR}/pkgconfig/ringlm.pc.in ${CMAKE_BINARY_DIR}/pkgconfig/ringlm.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/pkgconfig/ringlm.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT ringlm)

# CMake package: find_package(ringlm) -> ringlm::ringlm (C API) and, when
# FlatBuffers is found, ringlm::schemas (generated C++ schema headers).
set(RINGLM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ringlm)
install(EXPORT ringlmTargets NAMESPACE ringlm:: DESTINATION ${RINGLM_CMAKE_DIR} COMPONENT ringlm)
configure_package_config_file(${CMAKE_SOURCE_DIR}/capi/ringlmConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/cmake/ringlmConfig.cmake
                              INSTALL_DESTINATION ${RINGLM_CMAKE_DIR}
                              PATH_VARS CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/ringlmConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/ringlmConfig.cmake ${CMAKE_BINARY_DIR}/cmake/ringlmConfigVersion.cmake
        DESTINATION ${RINGLM_CMAKE_DIR} COMPONENT ringlm)
