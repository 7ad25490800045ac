#include "lifecycle/notifier.hpp"

#include <httplib.h>

#include <cstdio>
#include <iostream>

namespace retarget {

std::string deliver_notification(const Notifications& sinks, const std::string& summary, const std::string& json) {
  std::string failures;
  if (sinks.log) std::cerr << "retarget: " << summary << "\n";
  if (!sinks.command.empty()) {
    FILE* pipe = ::popen(sinks.command.c_str(), "w");
    if (!pipe) {
      failures += "notification command could not start: " + sinks.command + "\n";
    } else {
      std::fwrite(json.data(), 1, json.size(), pipe);
      std::fputc('\n', pipe);
      int rc = ::pclose(pipe);
      if (rc != 0) failures += "notification command exited with status " + std::to_string(rc) + "\n";
    }
  }
  if (!sinks.webhook.empty()) {
    const std::string& url = sinks.webhook;
    const std::string scheme = "http://";
    if (url.rfind(scheme, 0) != 0) {
      failures += "webhook URL must start with http:// (" + url + ")\n";
    } else {
      std::size_t slash = url.find('/', scheme.size());
      std::string host_port = url.substr(scheme.size(), slash == std::string::npos ? std::string::npos : slash - scheme.size());
      std::string path = slash == std::string::npos ? "/" : url.substr(slash);
      httplib::Client client("http://" + host_port);
      client.set_connection_timeout(5, 0);
      client.set_read_timeout(10, 0);
      auto res = client.Post(path.c_str(), json, "application/json");
      if (!res) failures += "webhook " + url + " failed: " + httplib::to_string(res.error()) + "\n";
      else if (res->status >= 300) failures += "webhook " + url + " answered " + std::to_string(res->status) + "\n";
    }
  }
  return failures;
}

}  // namespace retarget
