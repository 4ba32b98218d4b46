// Settings: precedence (flags > environment > .env > defaults), .env syntax,
// validation messages and the plugin config JSON.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "dlhost/host/settings.hpp"
#include "dlhost/plugin_settings.h"

namespace fs = std::filesystem;
using namespace dlhost;

namespace {

std::map<std::string, std::string> parse(const std::string &text) {
  std::istringstream in(text);
  return parse_env_file(in, ".env");
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("dlhost-settings-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  void write(const std::string &name, const std::string &text) const {
    std::ofstream(path / name) << text;
  }
  static inline int counter = 0;
};

SettingInputs inputs_in(const TempDir &dir, std::map<std::string, std::string> env = {}) {
  SettingInputs in;
  in.working_dir = dir.path;
  in.getenv = [env](const std::string &name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return in;
}

}  // namespace

TEST(EnvFile, ParsesPlainQuotedAndCommentedValues) {
  const auto v = parse(
      "# comment\n\n"
      "A=1\n"
      "export B = two words \n"
      "C='single # not a comment'\n"
      "D=\"double \\\"quoted\\\"\\nline\"  # trailing comment\n"
      "E=value # comment\n"
      "F=http://x/#frag\n"
      "G=\n"
      "H={\"a\": [1, 2]}\n");
  EXPECT_EQ(v.at("A"), "1");
  EXPECT_EQ(v.at("B"), "two words");
  EXPECT_EQ(v.at("C"), "single # not a comment");
  EXPECT_EQ(v.at("D"), "double \"quoted\"\nline");
  EXPECT_EQ(v.at("E"), "value");
  EXPECT_EQ(v.at("F"), "http://x/#frag");
  EXPECT_EQ(v.at("G"), "");
  EXPECT_EQ(v.at("H"), "{\"a\": [1, 2]}");
}

TEST(EnvFile, ErrorsNameFileAndLine) {
  EXPECT_THROW(parse("A=1\nno equals sign\n"), ConfigError);
  try {
    parse("A=1\nno equals sign\n");
  } catch (const ConfigError &e) {
    EXPECT_STREQ(e.what(), ".env:2: expected KEY=VALUE");
  }
  try {
    parse("A='open\n");
  } catch (const ConfigError &e) {
    EXPECT_STREQ(e.what(), ".env:1: unterminated ' quote");
  }
  try {
    parse("1A=x\n");
  } catch (const ConfigError &e) {
    EXPECT_STREQ(e.what(), ".env:1: invalid variable name \"1A\"");
  }
  EXPECT_THROW(parse("A=\"x\" junk\n"), ConfigError);
}

TEST(Settings, DefaultsCoverTheWholeTable) {
  TempDir dir;
  const auto s = Settings::resolve(inputs_in(dir));
  EXPECT_EQ(s.get("DOWNLOADER_PLUGIN"), "multi-proxy");
  EXPECT_EQ(s.get("DOWNLOAD_DIR"), "./downloads");
  EXPECT_EQ(s.get_int("PROXY_DOWNLOAD_TIMEOUT"), 600000);
  EXPECT_EQ(s.get_int("PROXY_SKIP_CACHE_TTL"), 3600);
  EXPECT_EQ(s.get("PROXY_STRATEGY"), "load-balanced");
  EXPECT_EQ(s.get("DOWNLOAD_USER_AGENT"), "dlhost/" + std::string(project_version()));
  EXPECT_EQ(s.get_int("DOWNLOAD_FSYNC"), 0);
  EXPECT_EQ(s.source("PROXY_LIST"), SettingSource::kDefault);
  for (const auto &spec : setting_table()) {
    EXPECT_NO_THROW(s.get(spec.name)) << spec.name;
    EXPECT_TRUE(spec.help && *spec.help) << spec.name;
  }
}

TEST(Settings, FlagsBeatEnvironmentBeatsEnvFileBeatsDefaults) {
  TempDir dir;
  dir.write(".env", "PROXY_MAX_RETRIES=5\nPROXY_POST_LIMIT=6\nDOWNLOAD_DIR=from-env-file\n");
  auto in = inputs_in(dir, {{"PROXY_POST_LIMIT", "7"}, {"DOWNLOAD_DIR", "from-environment"}});
  in.flags["DOWNLOAD_DIR"] = "from-flag";
  const auto s = Settings::resolve(in);
  EXPECT_EQ(s.get("PROXY_MAX_RETRIES"), "5");
  EXPECT_EQ(s.source("PROXY_MAX_RETRIES"), SettingSource::kEnvFile);
  EXPECT_EQ(s.get("PROXY_POST_LIMIT"), "7");
  EXPECT_EQ(s.source("PROXY_POST_LIMIT"), SettingSource::kEnvironment);
  EXPECT_EQ(s.get("DOWNLOAD_DIR"), "from-flag");
  EXPECT_EQ(s.source("DOWNLOAD_DIR"), SettingSource::kFlag);
  EXPECT_EQ(s.get("PROXY_RETRY_BASE_DELAY"), "1000");
  ASSERT_TRUE(s.env_file_used());
}

TEST(Settings, EmptyValueOfANumericSettingMeansUnset) {
  TempDir dir;
  dir.write(".env", "PROXY_POST_LIMIT=\nPROXY_LIST=\nDOWNLOAD_USER_AGENT=\n");
  const auto s = Settings::resolve(inputs_in(dir, {{"PROXY_MAX_RETRIES", ""}}));
  EXPECT_EQ(s.get("PROXY_POST_LIMIT"), "2");
  EXPECT_EQ(s.source("PROXY_POST_LIMIT"), SettingSource::kDefault);
  EXPECT_EQ(s.get("PROXY_MAX_RETRIES"), "3");
  EXPECT_EQ(s.source("PROXY_LIST"), SettingSource::kEnvFile);
  EXPECT_EQ(s.get("DOWNLOAD_USER_AGENT"), "");  // a string may be set to empty
}

TEST(Settings, ExplicitEnvFileReplacesWorkingDirectoryOne) {
  TempDir dir;
  dir.write(".env", "PROXY_MAX_RETRIES=5\n");
  dir.write("other.env", "PROXY_HEALTH_FAILURES=8\n");
  auto in = inputs_in(dir);
  in.env_file = dir.path / "other.env";
  const auto s = Settings::resolve(in);
  EXPECT_EQ(s.get("PROXY_MAX_RETRIES"), "3");
  EXPECT_EQ(s.get("PROXY_HEALTH_FAILURES"), "8");
  in.env_file = dir.path / "missing.env";
  EXPECT_THROW(Settings::resolve(in), ConfigError);
}

TEST(Settings, ValidationNamesTheSettingAndSource) {
  TempDir dir;
  const auto message_for = [&](const std::string &name, const std::string &value) {
    try {
      Settings::resolve(inputs_in(dir, {{name, value}}));
    } catch (const ConfigError &e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message_for("PROXY_POST_LIMIT", "abc"),
            "PROXY_POST_LIMIT: expected an integer >= 1, got \"abc\" (from environment)");
  // The plugins' bounds, refused before the plugin is loaded (they were
  // accepted here and failed only at create()).
  EXPECT_EQ(message_for("PROXY_POST_LIMIT", "0"),
            "PROXY_POST_LIMIT: expected an integer >= 1, got \"0\" (from environment)");
  EXPECT_EQ(message_for("PROXY_RETRY_BACKOFF", "0.5"),
            "PROXY_RETRY_BACKOFF: expected a number >= 1, got \"0.5\" (from environment)");
  EXPECT_EQ(message_for("PROXY_MAX_RETRIES", "x"),
            "PROXY_MAX_RETRIES: expected a non-negative integer, got \"x\" (from environment)");
  EXPECT_EQ(message_for("PROXY_POST_LIMIT", "-1").rfind("PROXY_POST_LIMIT:", 0), 0u);
  EXPECT_EQ(message_for("PROXY_RETRY_BACKOFF", "x").rfind("PROXY_RETRY_BACKOFF:", 0), 0u);
  EXPECT_EQ(message_for("PROXY_RETRY_BACKOFF", "1.5"), "no error");
  EXPECT_EQ(message_for("PROXY_STRATEGY", "random"),
            "PROXY_STRATEGY: expected one of load-balanced|round-robin|first-available, got "
            "\"random\" (from environment)");
  EXPECT_EQ(message_for("PROXY_LIST", "{}").rfind("PROXY_LIST: expected a JSON array", 0), 0u);
  EXPECT_EQ(message_for("PROXY_LIST", "[oops").rfind("PROXY_LIST: not valid JSON", 0), 0u);
  EXPECT_EQ(message_for("DOWNLOAD_HEADERS", "[]").rfind("DOWNLOAD_HEADERS:", 0), 0u);
  EXPECT_EQ(message_for("DOWNLOAD_FSYNC", "2").rfind("DOWNLOAD_FSYNC: expected 0 or 1", 0), 0u);
  dir.write(".env", "PROXY_MAX_RETRIES=many\n");
  const auto from_file = message_for("UNRELATED", "x");
  EXPECT_NE(from_file.find("PROXY_MAX_RETRIES"), std::string::npos);
  EXPECT_NE(from_file.find(".env"), std::string::npos);
}

TEST(Settings, PluginConfigJsonFollowsTheContract) {
  TempDir dir;
  auto in = inputs_in(dir, {{"PROXY_LIST", "[{\"isLocalhost\":true}]"},
                            {"PROXY_RATE_LIMIT", "2.5"},
                            {"REDIS_URL", "redis://x"}});
  const auto j = nlohmann::json::parse(Settings::resolve(in).plugin_config_json());
  const char *expected[] = {"PROXY_LIST",
                            "PROXY_STRATEGY",
                            "PROXY_POST_LIMIT",
                            "PROXY_ATTACHMENT_LIMIT",
                            "PROXY_DOWNLOAD_TIMEOUT",
                            "PROXY_MAX_REDIRECTS",
                            "PROXY_SKIP_CACHE_TTL",
                            "PROXY_MAX_RETRIES",
                            "PROXY_RETRY_BACKOFF",
                            "PROXY_RETRY_BASE_DELAY",
                            "PROXY_STALL_TIMEOUT",
                            "PROXY_MAX_RETRY_AFTER",
                            "PROXY_OUTAGE_TIMEOUT",
                            "PROXY_RATE_LIMIT",
                            "PROXY_HEALTH_FAILURES",
                            "DOWNLOAD_CA_BUNDLE",
                            "DOWNLOAD_USER_AGENT",
                            "DOWNLOAD_HEADERS",
                            "DOWNLOAD_COOKIES",
                            "DOWNLOAD_FSYNC",
                            "DOWNLOAD_DIR",
                            "DOWNLOAD_FOLLOW_SYMLINKS",
                            "DOWNLOAD_MAX_FILE_SIZE"};
  EXPECT_EQ(j.size(), std::size(expected));
  for (const char *key : expected) EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["PROXY_LIST"], "[{\"isLocalhost\":true}]");  // raw text, a string
  EXPECT_TRUE(j["PROXY_POST_LIMIT"].is_number_integer());
  EXPECT_EQ(j["PROXY_DOWNLOAD_TIMEOUT"], 600000);
  EXPECT_EQ(j["PROXY_RETRY_BACKOFF"], 2);
  EXPECT_DOUBLE_EQ(j["PROXY_RATE_LIMIT"].get<double>(), 2.5);
  EXPECT_EQ(j["DOWNLOAD_FSYNC"], 0);
  EXPECT_EQ(j["DOWNLOAD_CA_BUNDLE"], "");
  EXPECT_FALSE(j.contains("REDIS_URL"));
  // The output directory goes out absolute, so the plugin can open files beneath it.
  EXPECT_EQ(j["DOWNLOAD_DIR"], (std::filesystem::current_path() / "downloads").string());
  EXPECT_EQ(j["DOWNLOAD_FOLLOW_SYMLINKS"], 0);
  EXPECT_EQ(j["DOWNLOAD_MAX_FILE_SIZE"], 0);
  EXPECT_FALSE(j.contains("DOWNLOADER_PLUGIN"));
  EXPECT_FALSE(j.contains("DOWNLOAD_JOB"));
}

// The plugins own their settings (dlhost/plugin_settings.h): the host's table
// has each of their rows with the same default, bounds and help, so the host
// and parse_transport_config cannot disagree.
TEST(Settings, PluginSettingsComeFromThePluginsTable) {
  for (const auto &row : plugin_settings::kTable) {
    const SettingSpec *spec = find_setting(row.name);
    ASSERT_NE(spec, nullptr) << row.name;
    EXPECT_TRUE(spec->for_plugin) << row.name;
    EXPECT_STREQ(spec->default_value, row.default_value) << row.name;
    EXPECT_EQ(spec->min, row.min) << row.name;
    EXPECT_STREQ(spec->help, row.help) << row.name;
  }
}
