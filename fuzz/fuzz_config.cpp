// Fuzz target: the config file (load_config). The input is written to a
// file of its own (in /dev/shm when there is one) and loaded as the engine
// loads it: every problem is a located diagnostic, never a crash or a hang.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fuzz_support.hpp"
#include "retarget/config.hpp"

using namespace retarget;
namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fs::path file = [] {
    fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    fs::path dir = base / ("retarget-fuzz-config-" + std::to_string(::getpid()));
    fs::create_directories(dir / "etc");
    static const fs::path remove_at_exit = dir;
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(remove_at_exit, ec);
    });
    return dir / "etc" / "retarget.yaml";
  }();
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  Diagnostics d;
  Config c = load_config(file.string(), d);
  (void)d.to_string();
  (void)c;
  return 0;
}
