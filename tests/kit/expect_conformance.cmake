# Runs `dlhost conformance PLUGIN` and checks its exit status and report.
#   cmake -DDLHOST=<bin> -DPLUGIN=<.so> -DEXPECT_RC=<n> [-DEXPECT_REGEX=<re>] -P expect_conformance.cmake
execute_process(COMMAND ${DLHOST} conformance ${PLUGIN} ${EXTRA_ARGS} RESULT_VARIABLE rc
                OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 600)
message("${out}${err}")
if(NOT rc STREQUAL EXPECT_RC)
  message(FATAL_ERROR "dlhost conformance ${PLUGIN} exited ${rc}, expected ${EXPECT_RC}")
endif()
if(DEFINED EXPECT_REGEX AND NOT out MATCHES "${EXPECT_REGEX}")
  message(FATAL_ERROR "the report does not match: ${EXPECT_REGEX}")
endif()
