# FlatBuffers code generation: engine control plane (engine/runtime/*.fbs) and
# the C ABI schemas (capi/schemas/*.fbs) -> ${CMAKE_BINARY_DIR}/generated/.
find_program(RINGLM_FLATC flatc REQUIRED)
file(GLOB RINGLM_FBS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/engine/runtime/*.fbs
     ${CMAKE_SOURCE_DIR}/capi/schemas/*.fbs)
set(RINGLM_GENERATED_DIR ${CMAKE_BINARY_DIR}/generated/ringlm)
set(RINGLM_FBS_HEADERS)
foreach(fbs ${RINGLM_FBS})
  get_filename_component(stem ${fbs} NAME_WE)
  set(out ${RINGLM_GENERATED_DIR}/${stem}_generated.h)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${RINGLM_FLATC} --cpp --scoped-enums --gen-object-api -o ${RINGLM_GENERATED_DIR}
            -I ${CMAKE_SOURCE_DIR}/capi/schemas ${fbs}
    DEPENDS ${fbs}
    COMMENT "flatc ${stem}.fbs")
  list(APPEND RINGLM_FBS_HEADERS ${out})
endforeach()
add_custom_target(ringlm_schemas DEPENDS ${RINGLM_FBS_HEADERS})
add_dependencies(ringlm_engine ringlm_schemas)
