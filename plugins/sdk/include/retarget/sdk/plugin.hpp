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
// 3: compact columns (column.hpp: ValueBlock, IntColumn, UserAttributes with
//    AttributeRef), ProfileView::user_buckets(chunk), time predicates bound
//    at evaluation (TimePredicate::at(EvalContext::now())).
// 4: EvalContext::count_skipped_values (a host-owned counter in EvalContext).
#define RETARGET_SDK_ABI 4
inline constexpr std::uint32_t kAbiVersion = RETARGET_SDK_ABI;

#define RETARGET_SDK_STR2(x) #x
#define RETARGET_SDK_STR(x) RETARGET_SDK_STR2(x)
// What must match for C++ classes to cross the boundary (docs/plugins.md):
// the compiler family and major version, the C++ ABI version (Itanium, as
// __GXX_ABI_VERSION), the C++ standard, the standard library's string ABI and
// the SDK ABI. A compiler point release changes none of these.
#if defined(__clang__)
#define RETARGET_SDK_COMPILER "clang-" RETARGET_SDK_STR(__clang_major__)
#elif defined(__GNUC__)
#define RETARGET_SDK_COMPILER "gcc-" RETARGET_SDK_STR(__GNUC__)
#else
#define RETARGET_SDK_COMPILER "unknown"
#endif
#define RETARGET_BUILD_FINGERPRINT                                                          \
  "compiler=" RETARGET_SDK_COMPILER ";cxx_abi=" RETARGET_SDK_STR(__GXX_ABI_VERSION)         \
  ";cplusplus=" RETARGET_SDK_STR(__cplusplus) ";glibcxx_cxx11_abi=" RETARGET_SDK_STR(_GLIBCXX_USE_CXX11_ABI) \
  ";sdk_abi=" RETARGET_SDK_STR(RETARGET_SDK_ABI)

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
