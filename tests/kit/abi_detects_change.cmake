# The ABI check must fail on an incompatible change: compile the probe from a
# copy of plugin.h whose dlhost_task.size shrank to 32 bits and expect
# abi_check.cmake to reject it.
#   cmake -DCC=<c compiler> -DSOURCE=<repo> -DWORK=<dir> -P abi_detects_change.cmake
file(MAKE_DIRECTORY ${WORK}/include/dlhost)
file(READ ${SOURCE}/plugin-api/include/dlhost/plugin.h header)
string(REPLACE "  int64_t size;       /* expected size" "  int32_t size;       /* expected size"
       changed "${header}")
if(changed STREQUAL header)
  message(FATAL_ERROR "the test's edit no longer applies to plugin.h; update this script")
endif()
file(WRITE ${WORK}/include/dlhost/plugin.h "${changed}")
execute_process(COMMAND ${CC} -g -O0 -fPIC -shared -fvisibility=hidden -I${WORK}/include
                        -Wl,-soname,libdlhost-abi-probe.so
                        -o ${WORK}/libdlhost-abi-probe.so ${SOURCE}/plugin-api/abi/abi_types.c
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cannot compile the changed probe")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -DPROBE=${WORK}/libdlhost-abi-probe.so
                        -DBASELINE=${SOURCE}/plugin-api/abi/dlhost-plugin-abi.xml
                        -DOUT=${WORK}/changed.xml -P ${SOURCE}/plugin-api/abi/abi_check.cmake
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "ABI CHANGE against the baseline")
  message(FATAL_ERROR "the ABI check accepted an incompatible change (rc ${rc}):\n${out}${err}")
endif()
message(STATUS "the ABI check rejects an incompatible change, as it must")
