// The plugin entry point: how a shared library hands its filter types to the host.
//
// A plugin library exports exactly one C symbol, `retarget_plugin_entry`,
// returning a PluginTable. The host reads `abi_version` (always the first
// field, a plain integer) before anything else and refuses a mismatch; then it
// compares `build_fingerprint` with its own (same compiler, standard library
// ABI and SDK), and only then touches the factories.
//
// Usage, in one .cpp file of the plugin:
//
//   static const MyFilterFactory kMyFilter;
//   RETARGET_PLUGIN("com.example.my_filters", "1.0.0", &kMyFilter);
#pragma once

#include <cstdint>

#include "retarget/sdk/filter.hpp"

namespace retarget::sdk {

// Bump when any SDK type that crosses the boundary changes layout or meaning.
// 2: UserColumn stored by chunk; ProfileView::user_hashes(chunk).
inline constexpr std::uint32_t kAbiVersion = 2;

#define RETARGET_SDK_STR2(x) #x
#define RETARGET_SDK_STR(x) RETARGET_SDK_STR2(x)
// Identifies the toolchain: compiler version, C++ standard library ABI, SDK ABI.
#define RETARGET_BUILD_FINGERPRINT                                                  \
  "compiler=" __VERSION__ ";cplusplus=" RETARGET_SDK_STR(__cplusplus)               \
  ";glibcxx_cxx11_abi=" RETARGET_SDK_STR(_GLIBCXX_USE_CXX11_ABI) ";sdk_abi=1"

extern "C" {
struct PluginTable {
  std::uint32_t abi_version;       // first field forever: checked before anything else
  const char* build_fingerprint;   // RETARGET_BUILD_FINGERPRINT of the plugin's build
  const char* plugin_name;         // reverse-DNS, e.g. "io.retarget.campaign_filters"
  const char* plugin_version;
  std::uint32_t factory_count;
  const FilterFactory* const* factories;
};
}

}  // namespace retarget::sdk

#if defined(__GNUC__)
#define RETARGET_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))
#else
#define RETARGET_PLUGIN_EXPORT extern "C"
#endif

#define RETARGET_PLUGIN(name, version, ...)                                                   \
  static const ::retarget::sdk::FilterFactory* const retarget_plugin_factories_[] = {__VA_ARGS__}; \
  RETARGET_PLUGIN_EXPORT const ::retarget::sdk::PluginTable* retarget_plugin_entry() {        \
    static const ::retarget::sdk::PluginTable table{                                          \
        ::retarget::sdk::kAbiVersion, RETARGET_BUILD_FINGERPRINT, name, version,              \
        static_cast<std::uint32_t>(sizeof(retarget_plugin_factories_) /                       \
                                   sizeof(retarget_plugin_factories_[0])),                    \
        retarget_plugin_factories_};                                                          \
    return &table;                                                                            \
  }
