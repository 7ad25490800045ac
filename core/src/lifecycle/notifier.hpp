// Delivers lifecycle notifications (restore completed) to the configured
// sinks: a log line, a command (JSON on its standard input), a webhook (JSON
// POSTed to an http:// URL). Failures are reported, never thrown.
#pragma once

#include <string>

#include "retarget/config.hpp"

namespace retarget {

// Returns "" on success, else what failed (one line per failed sink).
std::string deliver_notification(const Notifications& sinks, const std::string& summary, const std::string& json);

}  // namespace retarget
