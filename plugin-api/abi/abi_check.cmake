# Compares the ABI of plugin.h with the committed baselines (libabigail).
#   cmake -DPROBE=<abi probe .so> -DHEADER=<plugin.h> -DBASELINES=<dir> -DOUT=<xml>
#         [-DVERDICT=<abi_verdict.py>] -P abi_check.cmake
#   ... -DUPDATE=ON  writes the baseline of the header's own version
# There is one baseline per released minor of the major, dlhost-plugin-abi-1.K.xml.
# abidw dumps every type reachable from the probe (abi_types.c) without paths
# or line numbers, so comments and build directories never matter.
# abi_verdict.py reads each abidiff report and tells additions (a struct
# grown at its end, a new type or function) from breaking changes:
#  - against every baseline of this major, the ABI must be unchanged or only
#    add: a break needs a new major;
#  - against the newest baseline, additions need DLHOST_ABI_MINOR bumped past
#    it (then record the new minor's baseline on purpose:
#    cmake --build BUILD --target dlhost-abi-baseline), and an unchanged ABI
#    must still be that baseline's version.
set(_abidw abidw --no-corpus-path --no-comp-dir-path --no-show-locs)
if(NOT VERDICT)
  set(VERDICT ${CMAKE_CURRENT_LIST_DIR}/abi_verdict.py)
endif()
file(READ ${HEADER} _header)
string(REGEX MATCH "#define DLHOST_ABI_MAJOR ([0-9]+)u" _ ${_header})
set(major ${CMAKE_MATCH_1})
string(REGEX MATCH "#define DLHOST_ABI_MINOR ([0-9]+)u" _ ${_header})
set(minor ${CMAKE_MATCH_1})
if(major STREQUAL "" OR minor STREQUAL "")
  message(FATAL_ERROR "cannot read DLHOST_ABI_MAJOR/MINOR from ${HEADER}")
endif()

if(UPDATE)
  set(target ${BASELINES}/dlhost-plugin-abi-${major}.${minor}.xml)
  execute_process(COMMAND ${_abidw} --out-file ${target} ${PROBE} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "abidw failed (${rc})")
  endif()
  message(STATUS "ABI ${major}.${minor} baseline written: ${target} (review and commit it)")
  return()
endif()

execute_process(COMMAND ${_abidw} --out-file ${OUT} ${PROBE} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "abidw failed (${rc})")
endif()
file(GLOB _baselines ${BASELINES}/dlhost-plugin-abi-${major}.*.xml)
if(NOT _baselines)
  message(FATAL_ERROR "no ABI ${major}.x baseline in ${BASELINES}")
endif()
set(newest -1)
foreach(baseline IN LISTS _baselines)
  string(REGEX MATCH "-${major}\\.([0-9]+)\\.xml$" _ ${baseline})
  set(k ${CMAKE_MATCH_1})
  execute_process(COMMAND abidiff ${baseline} ${OUT} RESULT_VARIABLE rc
                  OUTPUT_FILE ${OUT}.report-${k} ERROR_FILE ${OUT}.report-${k})
  execute_process(COMMAND python3 ${VERDICT} ${rc} INPUT_FILE ${OUT}.report-${k}
                  OUTPUT_VARIABLE verdict OUTPUT_STRIP_TRAILING_WHITESPACE)
  message(STATUS "against the ABI ${major}.${k} baseline: ${verdict}")
  if(NOT verdict MATCHES "^(unchanged|additions)$")
    file(READ ${OUT}.report-${k} report)
    message(FATAL_ERROR "ABI BREAK against ${major}.${k} (${verdict}). Within a major, structs \
only grow at their end and nothing is removed; anything else needs a new major.\n${report}")
  endif()
  if(k GREATER newest)
    set(newest ${k})
    set(newest_verdict ${verdict})
  endif()
endforeach()
if(newest_verdict STREQUAL "additions" AND NOT minor GREATER newest)
  message(FATAL_ERROR "the ABI adds to ${major}.${newest} but DLHOST_ABI_MINOR is still ${minor}: \
bump it, then record the new baseline: cmake --build <build> --target dlhost-abi-baseline")
endif()
if(newest_verdict STREQUAL "unchanged" AND NOT minor EQUAL newest)
  message(FATAL_ERROR "DLHOST_ABI_MINOR is ${minor}, but the ABI is exactly ${major}.${newest}'s")
endif()
if(newest_verdict STREQUAL "additions")
  message(STATUS "ABI ${major}.${minor} only adds to ${major}.${newest}: record its baseline with \
cmake --build <build> --target dlhost-abi-baseline")
endif()
