# Compares the ABI of plugin.h with the committed baseline (libabigail).
#   cmake -DPROBE=<abi probe .so> -DBASELINE=<xml> -DOUT=<xml> -P abi_check.cmake
#   ... -DUPDATE=ON  rewrites BASELINE from PROBE (a deliberate ABI change)
# abidw dumps every type reachable from the probe (see abi_types.c) without
# paths or line numbers, so comments and build directories never matter;
# abidiff exits non-zero on any ABI change, and any change fails: a
# compatible one (a field appended at the end of a struct, with
# DLHOST_ABI_MINOR bumped) is accepted by updating the baseline on purpose:
# cmake --build BUILD --target dlhost-abi-baseline
set(_abidw abidw --no-corpus-path --no-comp-dir-path --no-show-locs)
if(UPDATE)
  execute_process(COMMAND ${_abidw} --out-file ${BASELINE} ${PROBE} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "abidw failed (${rc})")
  endif()
  message(STATUS "ABI baseline updated: ${BASELINE} (review and commit it)")
  return()
endif()
execute_process(COMMAND ${_abidw} --out-file ${OUT} ${PROBE} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "abidw failed (${rc})")
endif()
execute_process(COMMAND abidiff ${BASELINE} ${OUT} RESULT_VARIABLE rc OUTPUT_VARIABLE report
                ERROR_VARIABLE report)
if(rc EQUAL 0)
  message(STATUS "ABI unchanged against ${BASELINE}")
  return()
endif()
math(EXPR changed "${rc} & 12")
if(changed)
  # abidiff flags removed symbols as incompatible (bit 8) but a changed type
  # layout only as "changed" (bit 4), so every change is treated as breaking
  # until a person has looked at it.
  set(verdict "ABI CHANGE against the baseline. A field inserted, removed, \
reordered or resized breaks ABI compatibility and needs a new major. \
If the change only appends fields at the end of structs (and bumps DLHOST_ABI_MINOR), \
accept it on purpose: cmake --build <build> --target dlhost-abi-baseline, then commit \
plugin-api/abi/dlhost-plugin-abi.xml")
else()
  set(verdict "abidiff failed (exit ${rc})")
endif()
message(FATAL_ERROR "${verdict}\n${report}")
