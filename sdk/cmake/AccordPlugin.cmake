# Building an Accord adapter plugin (included by the SDK's package config, and in-tree by sdk/).
#   accord_plugin(NAME SOURCES file.cc ... [DEPS target ...])   a plugin library NAME.so
#   accord_plugin_proto(NAME file.proto)                         compiles a proto of the plugin's
#                                                                own (e.g. its configuration) into it
# Expects ACCORD_SDK_PLUGIN_TARGET (the SDK glue library) and ACCORD_SDK_PROTO_DIR (where
# accord/v1/*.proto are, for imports).

function(accord_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ACCORD_SDK_PLUGIN_TARGET} ${ARG_DEPS})
  # Only the two entry points ACCORD_PLUGIN marks are exported.
  set_target_properties(${name} PROPERTIES PREFIX "" CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
endfunction()

function(accord_plugin_proto target proto)
  get_filename_component(abs "${proto}" ABSOLUTE)
  get_filename_component(dir "${abs}" DIRECTORY)
  get_filename_component(stem "${proto}" NAME_WE)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${target}_gen")
  file(MAKE_DIRECTORY "${out}")
  add_custom_command(
    OUTPUT "${out}/${stem}.pb.cc" "${out}/${stem}.pb.h"
    COMMAND protobuf::protoc --proto_path=${dir} --proto_path=${ACCORD_SDK_PROTO_DIR} --cpp_out=${out} ${abs}
    DEPENDS "${abs}" protobuf::protoc
    COMMENT "protoc ${stem}.proto (${target})")
  target_sources(${target} PRIVATE "${out}/${stem}.pb.cc")
  target_include_directories(${target} PRIVATE "${out}")
endfunction()
