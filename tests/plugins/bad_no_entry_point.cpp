// A shared library with no retarget_plugin_entry: not a plugin.
#include <retarget/sdk/plugin.hpp>

RETARGET_PLUGIN_EXPORT int some_other_symbol() { return 42; }
