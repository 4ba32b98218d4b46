# Unit tests of the host engine (no network).
add_executable(host_unit_tests
  ${CMAKE_CURRENT_LIST_DIR}/host_settings_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_manifest_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_flat_json_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_local_files_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_verified_files_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_coordination_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_stats_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_plugin_loader_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_redis_url_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_progress_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_redact_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_events_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_queue_source_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/host_json_rpc_test.cpp)
target_link_libraries(host_unit_tests PRIVATE dlhost::engine dlhost::redis dlhost::status
                                              dlhost::service dlhost::plugin-settings
                                              GTest::gtest_main)
gtest_discover_tests(host_unit_tests TEST_PREFIX "host." DISCOVERY_TIMEOUT 30)

# The engine embedded, driven through the test plugin built in tests/abi.
add_executable(host_job_tests ${CMAKE_CURRENT_LIST_DIR}/host_job_test.cpp
                              ${CMAKE_CURRENT_LIST_DIR}/host_plugin_extension_test.cpp)
target_link_libraries(host_job_tests PRIVATE dlhost::engine GTest::gtest_main)
target_compile_definitions(host_job_tests PRIVATE
  DLHOST_TEST_PLUGIN="$<TARGET_FILE:dlhost-test-plugin>"
  DLHOST_TEST_PLUGIN_1_0="$<TARGET_FILE:dlhost-test-plugin-1.0>"
  DLHOST_MULTI_PROXY_PLUGIN="$<TARGET_FILE:dlhost-multi-proxy>"
  DLHOST_LEGACY_PLUGIN="$<TARGET_FILE:dlhost-legacy>")
add_dependencies(host_job_tests dlhost-test-plugin dlhost-test-plugin-1.0 dlhost-multi-proxy
                 dlhost-legacy)
gtest_discover_tests(host_job_tests TEST_PREFIX "host." DISCOVERY_TIMEOUT 30)
