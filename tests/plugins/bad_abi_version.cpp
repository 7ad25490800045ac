// A plugin built for another ABI version: the host must refuse it before
// touching anything but the version field.
#include <retarget/sdk/plugin.hpp>

RETARGET_PLUGIN_EXPORT const retarget::sdk::PluginTable* retarget_plugin_entry() {
  static const retarget::sdk::PluginTable table{999, "not-checked", "test.bad_abi_version", "0.0.1", 0, nullptr};
  return &table;
}
