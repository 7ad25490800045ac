// Helpers shared by the integration tests.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include "retarget/engine.hpp"

namespace retarget::testing {

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

// A fresh temporary directory, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("retarget-test-" + std::to_string(::getpid()) + "-" +
                                                      std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // standard output
  std::string err;  // standard error
};

// Runs a shell command, capturing stdout and stderr separately.
inline CommandResult run_command(const std::string& command) {
  TempDir tmp;
  std::string full = command + " >" + (tmp / "out").string() + " 2>" + (tmp / "err").string() + " </dev/null";
  int status = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(tmp / "out");
  r.err = read_file(tmp / "err");
  return r;
}

// Engine options for tests: the built plugins only, a fixed clock.
inline EngineOptions test_options(const std::string& now = "2026-06-15T12:00:00Z", unsigned threads = 2) {
  EngineOptions o;
  o.default_plugin_dirs = false;
  o.extra_plugin_dirs = {RETARGET_PLUGIN_DIR};
  o.data_dir = ":memory:";
  o.now_ms = parse_time_ms(now);
  o.threads = threads;
  return o;
}

}  // namespace retarget::testing
