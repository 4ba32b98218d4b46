// Settings: one table of every setting the host knows, and their resolution.
//
// Every value has exactly one source of truth, resolved here in this order:
// command-line flags > the process environment > a `.env` file > built-in
// defaults. Each resolved value remembers where it came from so that a
// `check-config` can show the operator exactly what a plugin will receive.
// Plugins never read the environment: they get `plugin_config_json()`, the
// subset of settings a transport needs, typed as docs/INTERNAL-CONTRACTS.md
// says (integers as JSON numbers, everything else as strings).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <istream>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "dlhost/plugin_settings.h"

namespace dlhost {

// A configuration problem; what() is one line naming the setting or file.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The kinds of value (free text, integer >= min, JSON array, ...): the
// plugins' settings table defines them, and the host's rows use the same.
using SettingType = plugin_settings::Kind;

struct SettingSpec {
  const char *name;
  const char *default_value;
  SettingType type;
  bool for_plugin;      // passed to the plugin in its config JSON
  const char *choices;  // kChoice: '|'-separated; else nullptr
  const char *help;
  double min = 0;  // kInt, kNumber: the smallest value accepted
};

// The table of every setting, in documentation order.
std::span<const SettingSpec> setting_table();
const SettingSpec *find_setting(std::string_view name);

// The project version, e.g. "0.1.0", and the default User-Agent.
std::string_view project_version();

enum class SettingSource { kDefault, kEnvFile, kEnvironment, kFlag };
std::string_view to_string(SettingSource source);

struct ResolvedSetting {
  std::string value;
  SettingSource source = SettingSource::kDefault;
};

// Parses `.env` text: KEY=VALUE lines, `export KEY=VALUE`, '#' comments, blank
// lines, single-quoted (literal) and double-quoted (\n \t \" \\ escapes)
// values, and trailing `# comment` after unquoted values; a UTF-8 byte order
// mark at the start is ignored. Throws ConfigError "FILE:LINE: message".
std::map<std::string, std::string> parse_env_file(std::istream &in, const std::string &file_name);

// Where resolution reads its inputs; injectable for tests.
struct SettingInputs {
  std::map<std::string, std::string> flags;  // setting name -> value
  std::function<std::optional<std::string>(const std::string &)> getenv;
  // An explicit --env-file (must exist), else `.env` in the working
  // directory (optional).
  std::optional<std::filesystem::path> env_file;
  std::filesystem::path working_dir = ".";
};

class Settings {
 public:
  // Resolves and validates every setting. Throws ConfigError.
  static Settings resolve(const SettingInputs &inputs);
  // Resolves from the real process environment.
  static Settings resolve_from_process(std::map<std::string, std::string> flags,
                                       std::optional<std::filesystem::path> env_file);

  const std::string &get(std::string_view name) const;
  std::int64_t get_int(std::string_view name) const;
  double get_number(std::string_view name) const;
  SettingSource source(std::string_view name) const;
  // Which `.env` file was read, if any.
  const std::optional<std::filesystem::path> &env_file_used() const { return env_file_used_; }

  // The JSON object given to the plugin's create(), per INTERNAL-CONTRACTS.md.
  std::string plugin_config_json() const;

 private:
  const ResolvedSetting &lookup(std::string_view name) const;
  std::map<std::string, ResolvedSetting, std::less<>> values_;
  std::optional<std::filesystem::path> env_file_used_;
};

}  // namespace dlhost
