// retarget/version.hpp: the library's version and what it was built with.
#include "retarget/version.hpp"

#include <oneapi/tbb/version.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <rocksdb/version.h>
#include <zstd.h>

#include <algorithm>
#include <boost/version.hpp>
#include <nlohmann/json.hpp>
#include <roaring/roaring_version.h>
#include <simdjson.h>

#include "retarget/sdk/plugin.hpp"

#define RETARGET_STR2(x) #x
#define RETARGET_STR(x) RETARGET_STR2(x)

#ifndef RETARGET_BUILD_TYPE
#define RETARGET_BUILD_TYPE ""
#endif
#ifndef RETARGET_YAML_CPP_VERSION
#define RETARGET_YAML_CPP_VERSION ""
#endif

namespace retarget {

const char* version() { return RETARGET_VERSION_STRING; }

BuildInfo build_info() {
  auto n = [](auto v) { return std::to_string(v); };
  BuildInfo info;
  info.version = version();
  info.abi_version = sdk::kAbiVersion;
  info.build_type = RETARGET_BUILD_TYPE;
  info.libraries = {
      {"boost", n(BOOST_VERSION / 100000) + "." + n(BOOST_VERSION / 100 % 1000) + "." + n(BOOST_VERSION % 100)},
      {"nlohmann_json", n(NLOHMANN_JSON_VERSION_MAJOR) + "." + n(NLOHMANN_JSON_VERSION_MINOR) + "." +
                            n(NLOHMANN_JSON_VERSION_PATCH)},
      {"openssl", OpenSSL_version(OPENSSL_VERSION_STRING)},  // the linked one
      {"roaring", n(ROARING_VERSION_MAJOR) + "." + n(ROARING_VERSION_MINOR) + "." + n(ROARING_VERSION_REVISION)},
      {"rocksdb", n(ROCKSDB_MAJOR) + "." + n(ROCKSDB_MINOR) + "." + n(ROCKSDB_PATCH)},
      {"simdjson", RETARGET_STR(SIMDJSON_VERSION)},
      {"tbb", TBB_runtime_version()},  // the linked one
      {"zstd", ZSTD_versionString()},  // the linked one
  };
  if (*RETARGET_YAML_CPP_VERSION) info.libraries.emplace_back("yaml-cpp", RETARGET_YAML_CPP_VERSION);
  std::sort(info.libraries.begin(), info.libraries.end());
  return info;
}

}  // namespace retarget
