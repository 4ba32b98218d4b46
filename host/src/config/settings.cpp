// Settings: the table, `.env` parsing, precedence and validation.
//
// The table is the single list of settings: defaults, types and help all live
// in it, so documentation, validation and the plugin config cannot drift
// apart. Validation runs once after resolution and stops at the first bad
// value with one line that names the setting, its value and where it came
// from, because the operator needs to know which file or variable to fix.
#include "dlhost/host/settings.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dlhost/util/fd.h"
#include "dlhost/util/text.h"

#ifndef DLHOST_VERSION
#define DLHOST_VERSION "0.0.0"
#endif

namespace dlhost {
namespace {

using T = SettingType;

// A setting the plugins own (dlhost/plugin_settings.h): its default, bounds
// and help come from their table; the host validates it early and passes it
// on in config_json.
consteval SettingSpec plugin_row(std::string_view name) {
  const auto &s = plugin_settings::get(name);
  return {s.name, s.default_value, s.kind, true, s.choices, s.help, s.min};
}

// In documentation order. The host's own settings are written here; the
// plugins' come from their table. DOWNLOAD_USER_AGENT's default is filled in
// from the version at resolution.
constexpr SettingSpec kTable[] = {
    {"DOWNLOADER_PLUGIN", "multi-proxy", T::kString, false, nullptr,
     "which plugin `run` loads: legacy, multi-proxy, or a path to a .so"},
    {"DOWNLOAD_DIR", "./downloads", T::kString, true, nullptr, "output directory"},
    plugin_row("PROXY_LIST"),
    plugin_row("PROXY_STRATEGY"),
    plugin_row("PROXY_POST_LIMIT"),
    plugin_row("PROXY_ATTACHMENT_LIMIT"),
    plugin_row("PROXY_DOWNLOAD_TIMEOUT"),
    plugin_row("PROXY_MAX_REDIRECTS"),
    plugin_row("PROXY_SKIP_CACHE_TTL"),
    plugin_row("PROXY_MAX_RETRIES"),
    plugin_row("PROXY_RETRY_BACKOFF"),
    plugin_row("PROXY_RETRY_BASE_DELAY"),
    plugin_row("PROXY_STALL_TIMEOUT"),
    plugin_row("PROXY_MAX_RETRY_AFTER"),
    plugin_row("PROXY_OUTAGE_TIMEOUT"),
    plugin_row("PROXY_RATE_LIMIT"),
    plugin_row("PROXY_HEALTH_FAILURES"),
    {"REDIS_URL", "", T::kString, false, nullptr,
     "Redis for leases, completion records and shared stats; empty = in-process"},
    plugin_row("DOWNLOAD_CA_BUNDLE"),
    {"DOWNLOAD_JOB", "", T::kString, false, nullptr,
     "the job's name in Redis; empty = derived from the manifest's content"},
    {"DOWNLOAD_LEASE_TTL", "60000", T::kInt, false, nullptr,
     "ms a file's lease lasts unless renewed (renewed every third of it while the transfer runs)"},
    plugin_row("DOWNLOAD_USER_AGENT"),
    plugin_row("DOWNLOAD_HEADERS"),
    plugin_row("DOWNLOAD_COOKIES"),
    plugin_row("DOWNLOAD_FSYNC"),
    plugin_row("DOWNLOAD_FOLLOW_SYMLINKS"),
    plugin_row("DOWNLOAD_MAX_FILE_SIZE"),
    {"DOWNLOAD_INTERRUPT_GRACE", "5000", T::kInt, false, nullptr,
     "ms running transfers may still finish after the first SIGINT/SIGTERM (a second one stops "
     "at once)"},
    {"DOWNLOAD_ON_FILE_DONE", "", T::kString, false, nullptr,
     "command run (no shell) for every file that ends: completed, failed or skipped; details in "
     "DLHOST_* variables"},
    {"DOWNLOAD_ON_JOB_DONE", "", T::kString, false, nullptr,
     "command run (no shell) once when the job ends, with its counts in DLHOST_* variables"},
    {"DOWNLOAD_HOOK_CONCURRENCY", "4", T::kInt, false, nullptr, "hook commands running at once"},
    {"DOWNLOAD_HOOK_TIMEOUT", "30000", T::kInt, false, nullptr,
     "ms a hook command (or one webhook POST) may take; then it is killed (abandoned)"},
    {"DOWNLOAD_HOOK_DRAIN_TIMEOUT", "0", T::kInt, false, nullptr,
     "ms the end of the job waits for queued file hooks in all; 0 = until every one has run"},
    {"DOWNLOAD_WEBHOOK_URL", "", T::kString, false, nullptr,
     "http(s) URL that receives the job summary as a JSON POST; empty = none"},
    {"DOWNLOAD_WEBHOOK_EVENTS", "0", T::kBool01, false, nullptr,
     "1 = the webhook also receives file and proxy events (batched, no progress)"},
};

std::string absolute_dir(const std::string &dir) {
  std::error_code ec;
  std::string abs = std::filesystem::absolute(dir, ec).lexically_normal().string();
  if (ec) return dir;
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  return abs;
}

std::string default_user_agent() {
  return "dlhost/" + std::string(project_version());
}

using util::trim;

bool is_valid_key(std::string_view key) {
  if (key.empty() || (key[0] >= '0' && key[0] <= '9')) return false;
  for (char c : key) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

// Reads a double-quoted value starting after the opening quote; returns the
// unescaped text and sets `rest` to what follows the closing quote.
std::optional<std::string> unquote_double(std::string_view s, std::string_view &rest) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      rest = s.substr(i + 1);
      return out;
    }
    if (c == '\\' && i + 1 < s.size()) {
      char n = s[++i];
      out += n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n;
    } else {
      out += c;
    }
  }
  return std::nullopt;
}

std::string parse_env_value(std::string_view raw, const std::string &where) {
  raw = trim(raw);
  if (raw.empty()) return {};
  std::string_view rest;
  std::string value;
  if (raw[0] == '\'') {
    const auto end = raw.find('\'', 1);
    if (end == std::string_view::npos) throw ConfigError(where + ": unterminated ' quote");
    value = std::string(raw.substr(1, end - 1));
    rest = raw.substr(end + 1);
  } else if (raw[0] == '"') {
    auto v = unquote_double(raw.substr(1), rest);
    if (!v) throw ConfigError(where + ": unterminated \" quote");
    value = std::move(*v);
  } else {
    // Unquoted: a '#' preceded by whitespace starts a comment (so URLs with
    // fragments and JSON keep their '#').
    size_t cut = raw.size();
    for (size_t i = 1; i < raw.size(); ++i) {
      if (raw[i] == '#' && (raw[i - 1] == ' ' || raw[i - 1] == '\t')) {
        cut = i;
        break;
      }
    }
    return std::string(trim(raw.substr(0, cut)));
  }
  rest = trim(rest);
  if (!rest.empty() && rest[0] != '#') {
    throw ConfigError(where + ": unexpected text after the closing quote");
  }
  return value;
}

std::optional<std::string> process_getenv(const std::string &name) {
  const char *v = std::getenv(name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

bool parse_int(const std::string &s, std::int64_t &out) {
  if (s.empty()) return false;
  errno = 0;
  char *end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < 0 || s[0] == '+' || s[0] == ' ') return false;
  out = v;
  return true;
}

bool parse_number(const std::string &s, double &out) {
  if (s.empty()) return false;
  errno = 0;
  char *end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v) || v < 0 || s[0] == ' ') return false;
  out = v;
  return true;
}

// A file setting must name a file that can be read now: a missing CA bundle
// or cookies file would otherwise fail every transfer (or, for cookies, go
// unnoticed) an hour into the job.
std::string file_problem(const std::string &path) {
  if (path.empty()) return {};
  util::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return "cannot read " + util::echo(path) + ": " + std::strerror(errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return "cannot read " + util::echo(path) + ": not a regular file";
  return {};
}

// 1 -> "1", 0.5 -> "0.5".
std::string shown_number(double v) {
  std::string text = std::to_string(v);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text;
}

// Returns an empty string when the value is fine, else what is wrong with it.
std::string validation_problem(const SettingSpec &spec, const std::string &value) {
  std::int64_t i = 0;
  double d = 0;
  switch (spec.type) {
    case T::kString:
      return {};
    case T::kInt:
      if (spec.min > 0)
        return parse_int(value, i) && static_cast<double>(i) >= spec.min
                   ? ""
                   : "expected an integer >= " + shown_number(spec.min);
      return parse_int(value, i) ? "" : "expected a non-negative integer";
    case T::kNumber:
      if (spec.min > 0)
        return parse_number(value, d) && d >= spec.min
                   ? ""
                   : "expected a number >= " + shown_number(spec.min);
      return parse_number(value, d) ? "" : "expected a non-negative number";
    case T::kBool01:
      return value == "0" || value == "1" ? "" : "expected 0 or 1";
    case T::kChoice:
      return plugin_settings::is_choice(spec.choices, value)
                 ? ""
                 : std::string("expected one of ") + spec.choices;
    case T::kFile:
      return file_problem(value);
    case T::kJsonArray:
    case T::kJsonObject: {
      if (value.empty()) return {};
      const auto j = nlohmann::json::parse(value, nullptr, false);
      if (j.is_discarded()) return "not valid JSON";
      if (spec.type == T::kJsonArray && !j.is_array()) return "expected a JSON array";
      if (spec.type == T::kJsonObject && !j.is_object()) return "expected a JSON object";
      return {};
    }
  }
  return {};
}

std::string describe_source(SettingSource source, const std::optional<std::filesystem::path> &env) {
  if (source == SettingSource::kEnvFile && env) return "from " + env->string();
  return "from " + std::string(to_string(source));
}

// `PROXY_POST_LIMIT=` (as a copied .env.dist has it) means "not set" for a
// setting that cannot be empty, so the default (or a lower source) applies.
bool counts(const SettingSpec &spec, const std::string &value) {
  return !value.empty() || spec.type == T::kString || spec.type == T::kFile ||
         spec.type == T::kJsonArray || spec.type == T::kJsonObject;
}

std::map<std::string, std::string> read_env_file(const SettingInputs &inputs,
                                                 std::optional<std::filesystem::path> &used) {
  std::filesystem::path path;
  if (inputs.env_file) {
    path = *inputs.env_file;
    std::ifstream in(path);
    if (!in) throw ConfigError("--env-file " + path.string() + ": cannot open");
    used = path;
    return parse_env_file(in, path.string());
  }
  path = inputs.working_dir / ".env";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return {};
  std::ifstream in(path);
  if (!in) throw ConfigError(path.string() + ": cannot open");
  used = path;
  return parse_env_file(in, path.string());
}

}  // namespace

std::span<const SettingSpec> setting_table() {
  return kTable;
}

const SettingSpec *find_setting(std::string_view name) {
  for (const auto &s : kTable) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

std::string_view project_version() {
  return DLHOST_VERSION;
}

std::string_view to_string(SettingSource source) {
  switch (source) {
    case SettingSource::kDefault:
      return "default";
    case SettingSource::kEnvFile:
      return ".env";
    case SettingSource::kEnvironment:
      return "environment";
    case SettingSource::kFlag:
      return "command line";
  }
  return "?";
}

std::map<std::string, std::string> parse_env_file(std::istream &in, const std::string &file_name) {
  std::map<std::string, std::string> out;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    const std::string where = file_name + ":" + std::to_string(number);
    std::string_view s = trim(number == 1 ? util::strip_bom(line) : std::string_view(line));
    if (s.empty() || s[0] == '#') continue;
    if (s.substr(0, 7) == "export ") s = trim(s.substr(7));
    const auto eq = s.find('=');
    if (eq == std::string_view::npos) throw ConfigError(where + ": expected KEY=VALUE");
    const std::string key(trim(s.substr(0, eq)));
    if (!is_valid_key(key))
      throw ConfigError(where + ": invalid variable name \"" + util::echo(key) + "\"");
    out[key] = parse_env_value(s.substr(eq + 1), where);
  }
  return out;
}

Settings Settings::resolve(const SettingInputs &inputs) {
  Settings result;
  const auto env_file = read_env_file(inputs, result.env_file_used_);
  for (const auto &spec : kTable) {
    ResolvedSetting r{spec.default_value, SettingSource::kDefault};
    if (std::string_view(spec.name) == "DOWNLOAD_USER_AGENT") r.value = default_user_agent();
    if (auto it = env_file.find(spec.name); it != env_file.end() && counts(spec, it->second)) {
      r = {it->second, SettingSource::kEnvFile};
    }
    if (inputs.getenv) {
      if (auto v = inputs.getenv(spec.name); v && counts(spec, *v)) {
        r = {*v, SettingSource::kEnvironment};
      }
    }
    if (auto it = inputs.flags.find(spec.name); it != inputs.flags.end()) {
      r = {it->second, SettingSource::kFlag};
    }
    const auto problem = validation_problem(spec, r.value);
    if (!problem.empty()) {
      // JSON settings carry passwords and tokens: never echo them.
      // A file's problem names the file already.
      const bool may_hold_secrets = spec.type == T::kJsonArray || spec.type == T::kJsonObject;
      const bool named = spec.type == T::kFile;
      const std::string got =
          may_hold_secrets || named ? "" : ", got \"" + util::echo(r.value) + "\"";
      throw ConfigError(std::string(spec.name) + ": " + problem + got + " (" +
                        describe_source(r.source, result.env_file_used_) + ")");
    }
    result.values_[spec.name] = std::move(r);
  }
  for (const auto &[name, value] : inputs.flags) {
    if (!find_setting(name)) throw ConfigError(name + ": unknown setting");
  }
  return result;
}

Settings Settings::resolve_from_process(std::map<std::string, std::string> flags,
                                        std::optional<std::filesystem::path> env_file) {
  SettingInputs inputs;
  inputs.flags = std::move(flags);
  inputs.getenv = process_getenv;
  inputs.env_file = std::move(env_file);
  return resolve(inputs);
}

const ResolvedSetting &Settings::lookup(std::string_view name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) throw std::logic_error("unknown setting " + std::string(name));
  return it->second;
}

const std::string &Settings::get(std::string_view name) const {
  return lookup(name).value;
}

std::int64_t Settings::get_int(std::string_view name) const {
  std::int64_t v = 0;
  parse_int(get(name), v);
  return v;
}

double Settings::get_number(std::string_view name) const {
  double v = 0;
  parse_number(get(name), v);
  return v;
}

SettingSource Settings::source(std::string_view name) const {
  return lookup(name).source;
}

std::string Settings::plugin_config_json() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto &spec : kTable) {
    if (!spec.for_plugin) continue;
    const auto &v = get(spec.name);
    switch (spec.type) {
      case T::kInt:
      case T::kBool01:
        j[spec.name] = get_int(spec.name);
        break;
      case T::kNumber: {
        // Whole numbers go out as integers so "2" stays 2, not 2.0.
        const double d = get_number(spec.name);
        if (d == std::floor(d) && d < 9e15) {
          j[spec.name] = static_cast<std::int64_t>(d);
        } else {
          j[spec.name] = d;
        }
        break;
      }
      default:
        // The plugin gets the output directory as the job resolves it
        // (absolute), so it can open every destination beneath it.
        j[spec.name] = std::string_view(spec.name) == "DOWNLOAD_DIR" ? absolute_dir(v) : v;
    }
  }
  return j.dump();
}

}  // namespace dlhost
