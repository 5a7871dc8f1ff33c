# Configures and builds the template plugin as a partner would: its own project, the SDK found
# through AccordSDK_DIR. Fails unless template_plugin.so comes out.
file(REMOVE_RECURSE "${BINARY}")
execute_process(COMMAND ${CMAKE_COMMAND} -S "${SOURCE}" -B "${BINARY}" -G Ninja -DCMAKE_BUILD_TYPE=Release
                        -DAccordSDK_DIR=${SDK_DIR} -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
                RESULT_VARIABLE configured)
if(NOT configured EQUAL 0)
  message(FATAL_ERROR "configuring the template against ${SDK_DIR} failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build "${BINARY}" RESULT_VARIABLE built)
if(NOT built EQUAL 0 OR NOT EXISTS "${BINARY}/template_plugin.so")
  message(FATAL_ERROR "building the template failed")
endif()
message(STATUS "built ${BINARY}/template_plugin.so")
