// The plugin conformance suite behind `dlhost conformance PLUGIN`.
//
// It checks one plugin against the contract of plugin.h from the outside,
// with a loopback HTTP origin of its own (conformance_origin.hpp): the
// version handshake, error reporting, the lifecycle, back-pressure, cancel
// (one and all), every accepted task ending exactly once, size and sha256
// verification, no callback after destroy(), and concurrent
// cancel/stats/health/wait from other threads while transfers run. Each check
// uses a fresh instance and reports PASS or FAIL with the reasons; a check
// that cannot be made safely (destroy() never returns) ends the run.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "dlhost/host/plugin_loader.hpp"

namespace dlhost::conformance {

struct CheckResult {
  std::string name;
  bool passed = false;
  std::vector<std::string> failures;  // empty when passed
};

// Names of the checks, in the order they run.
std::vector<std::string> check_names();

// Runs every check against `plugin`, writing downloads under `work_dir`
// (which must exist and be empty); `report` is called after each check.
// `patience` is how long one task may take to end (the suite's transfers are
// small and local, so seconds are plenty).
std::vector<CheckResult> run_suite(const LoadedPlugin &plugin,
                                   const std::filesystem::path &work_dir,
                                   std::chrono::milliseconds patience,
                                   const std::function<void(const CheckResult &)> &report);

}  // namespace dlhost::conformance
