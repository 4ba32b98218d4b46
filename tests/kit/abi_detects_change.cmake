# The ABI check must tell additions from breaks. Each case compiles the probe
# from an edited copy of plugin.h and runs abi_check.cmake against the
# committed baselines:
#   resized   dlhost_task.size shrinks to 32 bits          -> refused
#   inserted  a field inserted in the middle of dlhost_task -> refused
#   appended  a field appended to dlhost_task (last), minor bumped -> accepted
#   unbumped  the same field appended, minor not bumped     -> refused
#   cmake -DCC=<c compiler> -DSOURCE=<repo> -DWORK=<dir> -P abi_detects_change.cmake
file(READ ${SOURCE}/plugin-api/include/dlhost/plugin.h header)
string(REGEX MATCH "#define DLHOST_ABI_MINOR ([0-9]+)u" _ ${header})
math(EXPR next_minor "${CMAKE_MATCH_1} + 1")

set(size_line "  int64_t size;       /* expected size in bytes, or -1 if unknown */")
set(task_end "} dlhost_task;")
set(id_line "  uint64_t id;          /* chosen by the host, unique within one instance */")
set(minor_line "#define DLHOST_ABI_MINOR ${CMAKE_MATCH_1}u")

function(edit out from to)
  string(REPLACE "${from}" "${to}" changed "${${out}}")
  if(changed STREQUAL "${${out}}")
    message(FATAL_ERROR "the test's edit no longer applies to plugin.h: ${from}")
  endif()
  set(${out} "${changed}" PARENT_SCOPE)
endfunction()

function(check_case name text expect_ok)
  set(dir ${WORK}/${name})
  file(MAKE_DIRECTORY ${dir}/include/dlhost)
  file(WRITE ${dir}/include/dlhost/plugin.h "${text}")
  execute_process(COMMAND ${CC} -g -O0 -fPIC -shared -fvisibility=hidden -I${dir}/include
                          -Wl,-soname,libdlhost-abi-probe.so
                          -o ${dir}/libdlhost-abi-probe.so ${SOURCE}/plugin-api/abi/abi_types.c
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: cannot compile the changed probe")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -DPROBE=${dir}/libdlhost-abi-probe.so
                          -DHEADER=${dir}/include/dlhost/plugin.h
                          -DBASELINES=${SOURCE}/plugin-api/abi -DOUT=${dir}/changed.xml
                          -P ${SOURCE}/plugin-api/abi/abi_check.cmake
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(expect_ok AND NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: the ABI check refused an addition:\n${out}${err}")
  endif()
  if(NOT expect_ok AND rc EQUAL 0)
    message(FATAL_ERROR "${name}: the ABI check accepted a breaking change:\n${out}${err}")
  endif()
  message(STATUS "${name}: ${expect_ok} as expected")
endfunction()

set(resized "${header}")
edit(resized "${size_line}" "  int32_t size;       /* expected size in bytes, or -1 if unknown */")
check_case(resized "${resized}" FALSE)

set(inserted "${header}")
edit(inserted "${id_line}" "${id_line}\n  uint64_t inserted;")
edit(inserted "${minor_line}" "#define DLHOST_ABI_MINOR ${next_minor}u")
check_case(inserted "${inserted}" FALSE)

set(appended "${header}")
edit(appended "${task_end}" "  uint64_t appended;\n${task_end}")
set(unbumped "${appended}")
edit(appended "${minor_line}" "#define DLHOST_ABI_MINOR ${next_minor}u")
check_case(appended "${appended}" TRUE)
check_case(unbumped "${unbumped}" FALSE)
