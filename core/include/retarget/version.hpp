// The library's version. These macros are the one place the version is
// written: the top-level CMakeLists.txt reads them for project(VERSION), the
// packages and the CMake/pkg-config files.
//
//   #if RETARGET_VERSION_NUMBER >= 100   // 0.1.0 or later
//   std::cout << retarget::version();    // what the linked library says
//
// Thread safety: every function here may be called from any thread.
#pragma once

#include <string>
#include <utility>
#include <vector>

#define RETARGET_VERSION_MAJOR 0
#define RETARGET_VERSION_MINOR 1
#define RETARGET_VERSION_PATCH 0
#define RETARGET_VERSION_STRING "0.1.0"
// MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons.
#define RETARGET_VERSION_NUMBER (RETARGET_VERSION_MAJOR * 10000 + RETARGET_VERSION_MINOR * 100 + RETARGET_VERSION_PATCH)

namespace retarget {

// The version of the library linked at run time ("0.1.0"); a program built
// against one header and run with a newer shared library sees the newer one.
const char* version();

// What `retarget version --format json` prints.
struct BuildInfo {
  std::string version;      // version()
  unsigned abi_version = 0; // the plugin ABI (retarget/sdk/plugin.hpp kAbiVersion)
  std::string build_type;   // CMAKE_BUILD_TYPE of the library's build: Release, Debug, ...
  // The libraries the engine was built with and their versions, sorted by name.
  std::vector<std::pair<std::string, std::string>> libraries;
};
BuildInfo build_info();

}  // namespace retarget
