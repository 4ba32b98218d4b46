# A plugin exports exactly one dynamic symbol, dlhost_plugin_entry.
#   cmake -DPLUGIN=<.so> -P check_exports.cmake
execute_process(COMMAND nm -D --defined-only ${PLUGIN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm failed on ${PLUGIN}: ${err}")
endif()
string(REGEX MATCHALL "[^\n]+" lines "${out}")
set(names "")
foreach(line IN LISTS lines)
  string(REGEX REPLACE "^.* " "" name "${line}")
  list(APPEND names ${name})
endforeach()
if(NOT names STREQUAL "dlhost_plugin_entry")
  message(FATAL_ERROR "${PLUGIN} exports [${names}], expected only dlhost_plugin_entry")
endif()
message(STATUS "${PLUGIN}: exports only dlhost_plugin_entry")
