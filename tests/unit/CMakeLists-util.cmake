# Unit tests of util/ (dlhost-util). Included by CMakeLists.txt.
add_executable(util_unit_tests
  ${CMAKE_CURRENT_LIST_DIR}/util_text_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/util_url_test.cpp)
target_link_libraries(util_unit_tests PRIVATE dlhost::util GTest::gtest_main)
gtest_discover_tests(util_unit_tests TEST_PREFIX "util." DISCOVERY_TIMEOUT 30)
