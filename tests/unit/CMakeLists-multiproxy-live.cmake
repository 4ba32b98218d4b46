# The multi-proxy plugin's live proxy changes, through the real .so as a host
# loads it (PluginInstance), against the conformance origin and in-process
# forward proxies: loopback only, nothing to install or start.
if(TARGET dlhost-multi-proxy AND TARGET dlhost-conformance)
  add_executable(multiproxy_live_tests ${CMAKE_CURRENT_LIST_DIR}/mp_live_proxies_test.cpp)
  target_include_directories(multiproxy_live_tests PRIVATE ${PROJECT_SOURCE_DIR}/host/conformance)
  target_link_libraries(multiproxy_live_tests PRIVATE dlhost::engine dlhost::conformance
                                                      GTest::gtest_main)
  target_compile_definitions(multiproxy_live_tests PRIVATE
    DLHOST_MULTI_PROXY_PLUGIN="$<TARGET_FILE:dlhost-multi-proxy>")
  add_dependencies(multiproxy_live_tests dlhost-multi-proxy)
  gtest_discover_tests(multiproxy_live_tests TEST_PREFIX "multiproxy_live." DISCOVERY_TIMEOUT 30
                       PROPERTIES TIMEOUT 120)
endif()
