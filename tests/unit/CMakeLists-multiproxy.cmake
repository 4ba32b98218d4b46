# Unit tests of plugins/multi-proxy's pure logic. Included by CMakeLists.txt.
file(GLOB DLHOST_MULTIPROXY_TESTS ${CMAKE_CURRENT_LIST_DIR}/multiproxy_*.cpp)
if(DLHOST_MULTIPROXY_TESTS AND TARGET dlhost-multi-proxy-core)
  add_executable(multiproxy_unit_tests ${DLHOST_MULTIPROXY_TESTS})
  target_link_libraries(multiproxy_unit_tests PRIVATE dlhost-multi-proxy-core GTest::gtest_main)
  gtest_discover_tests(multiproxy_unit_tests TEST_PREFIX "multiproxy." DISCOVERY_TIMEOUT 30)
endif()
