// The text of the C ABI schemas (capi/schemas/*.fbs), compiled into the
// library by capi/embed_schemas.cmake, for FlatBuffers' JSON parser.
#pragma once

#include <cstddef>

namespace ringlm::capi {

struct SchemaFile {
  const char* name;  // "event.fbs"
  const char* text;
};

extern const SchemaFile kSchemaFiles[];
extern const size_t kSchemaFileCount;

}  // namespace ringlm::capi
