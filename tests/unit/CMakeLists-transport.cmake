# Unit tests of plugins/common (dlhost-transport). Included by CMakeLists.txt.
add_executable(transport_unit_tests
  ${CMAKE_CURRENT_LIST_DIR}/transport_sha256_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transport_part_file_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transport_beneath_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transport_config_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transport_failure_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transport_misc_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transport_response_length_test.cpp)
target_link_libraries(transport_unit_tests PRIVATE dlhost::transport GTest::gtest_main)
gtest_discover_tests(transport_unit_tests TEST_PREFIX "transport." DISCOVERY_TIMEOUT 30)
