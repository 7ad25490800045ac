// retarget_service: an example segmentation service embedding Retarget.
//
//   retarget_service --data-dir DIR [--config F] [--host 127.0.0.1] [--port 8080]
//                    [--token-file F] [--max-body-bytes N]
//
// Endpoints (JSON in, JSON out; errors are 4xx/5xx with {"error": "..."}):
//   POST /users/export/ids        {"external_ids": [...], "fields_to_export": [...]}
//   POST /segments/{id}/members   {} -> {"segment", "count", "members", "warnings"}
//   POST /campaigns/{id}/restore  {} -> 202 {"job", "state", "sources", ...}
//   GET  /lifecycle               -> [{"source", "tier", "pinned", ...}]
// It listens on loopback unless told otherwise, can require a bearer token
// (Authorization: Bearer <token>), and bounds request bodies.
#include <CLI/CLI.hpp>
#include <httplib.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "retarget/engine.hpp"

namespace {

using nlohmann::json;

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(2), "application/json");
}
void error(httplib::Response& res, int status, const std::string& message) { reply(res, status, {{"error", message}}); }

// Parses the body as a JSON object; answers 400 and returns false otherwise.
bool parse_body(const httplib::Request& req, httplib::Response& res, json& out) {
  if (req.body.empty()) {
    out = json::object();
    return true;
  }
  out = json::parse(req.body, nullptr, false);
  if (out.is_discarded() || !out.is_object()) {
    error(res, 400, "the request body must be a JSON object");
    return false;
  }
  return true;
}

httplib::Server* g_server = nullptr;
void stop(int) {
  if (g_server) g_server->stop();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"retarget_service: an example segmentation service embedding Retarget"};
  std::string data_dir = "retarget-data", config, host = "127.0.0.1", token_file;
  int port = 8080;
  std::size_t max_body = 1 << 20;
  std::vector<std::string> plugins;
  app.add_option("--data-dir", data_dir, "the engine's data directory (or :memory:)");
  app.add_option("--config", config, "config file");
  app.add_option("--plugins", plugins, "extra plugin directory");
  app.add_option("--host", host, "address to listen on (default loopback)");
  app.add_option("--port", port, "port (0 = any free port, printed on start)");
  app.add_option("--token-file", token_file, "require 'Authorization: Bearer <token>' with the token in this file");
  app.add_option("--max-body-bytes", max_body, "largest accepted request body");
  CLI11_PARSE(app, argc, argv);

  std::string token;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    std::getline(in, token);
    if (token.empty()) {
      std::cerr << "retarget_service: the token file is empty\n";
      return 2;
    }
  }
  retarget::EngineOptions options;
  options.config_path = config;
  options.data_dir = data_dir;
  options.extra_plugin_dirs = plugins;
  options.scheduler = true;  // a long-running host sweeps on schedule
  auto opened = retarget::Engine::Open(options);
  if (!opened.ok()) {
    std::cerr << "retarget_service: " << opened.status().message() << "\n";
    return opened.status().exit_code();
  }
  retarget::Engine& engine = **opened;

  httplib::Server server;
  g_server = &server;
  server.set_payload_max_length(max_body);
  server.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (!token.empty() && req.get_header_value("Authorization") != "Bearer " + token) {
      error(res, 401, "missing or wrong bearer token");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      std::string what = res.status == 413 ? "the request body is too large"
                         : res.status == 404 ? "no such endpoint"
                                             : "bad request";
      error(res, res.status, what);
    }
  });

  server.Post("/users/export/ids", [&](const httplib::Request& req, httplib::Response& res) {
    json body;
    if (!parse_body(req, res, body)) return;
    if (!body.contains("external_ids") || !body["external_ids"].is_array())
      return error(res, 400, "'external_ids' must be an array of strings");
    std::vector<std::string> ids;
    for (const auto& id : body["external_ids"]) {
      if (!id.is_string()) return error(res, 400, "'external_ids' must be an array of strings");
      ids.push_back(id.get<std::string>());
    }
    if (ids.size() > 50) return error(res, 400, "at most 50 external_ids per request");
    json out = json::parse(engine.export_users(ids));
    if (body.contains("fields_to_export")) {
      if (!body["fields_to_export"].is_array()) return error(res, 400, "'fields_to_export' must be an array");
      std::set<std::string> keep{"external_id"};
      for (const auto& f : body["fields_to_export"])
        if (f.is_string()) keep.insert(f.get<std::string>());
      for (auto& user : out["users"])
        for (auto it = user.begin(); it != user.end();)
          it = keep.count(it.key()) ? std::next(it) : user.erase(it);
    }
    reply(res, 201, out);
  });

  server.Post(R"(/segments/([^/]+)/members)", [&](const httplib::Request& req, httplib::Response& res) {
    json body;
    if (!parse_body(req, res, body)) return;
    auto r = engine.evaluate(req.matches[1]);
    if (!r.ok()) return error(res, r.status().code() == retarget::Status::Code::kNotFound ? 404 : 422, r.status().message());
    reply(res, 200, {{"segment", r->id}, {"count", r->count}, {"members", r->members}, {"warnings", r->warnings},
                     {"timing", {{"evaluate_ms", r->evaluate_ms}}}});
  });

  server.Post(R"(/campaigns/([^/]+)/restore)", [&](const httplib::Request& req, httplib::Response& res) {
    json body;
    if (!parse_body(req, res, body)) return;
    auto job = engine.restore({{req.matches[1]}, {}, {}});
    if (!job.ok()) return error(res, job.status().code() == retarget::Status::Code::kNotFound ? 404 : 409, job.status().message());
    reply(res, 202, {{"job", job->id}, {"state", job->state}, {"sources", job->sources}, {"moved", job->moved},
                     {"total", job->total}});
  });

  server.Get("/lifecycle", [&](const httplib::Request&, httplib::Response& res) {
    json out = json::array();
    for (const auto& s : engine.lifecycle_status()) {
      json pins = json::array();
      for (const auto& p : s.pinned_by) pins.push_back({{"pinner", p.pinner}, {"path", p.path}});
      json j{{"source", s.key}, {"status", s.status}, {"tier", s.tier}, {"pinned", s.pinned}, {"pinned_by", pins},
             {"records", s.records}};
      if (s.expires_at_ms) j["expires_at"] = retarget::format_time_ms(*s.expires_at_ms);
      out.push_back(j);
    }
    reply(res, 200, out);
  });

  std::signal(SIGTERM, stop);
  std::signal(SIGINT, stop);
  if (port == 0) port = server.bind_to_any_port(host);
  else if (!server.bind_to_port(host, port)) {
    std::cerr << "retarget_service: cannot listen on " << host << ":" << port << "\n";
    return 1;
  }
  std::cout << "listening on " << host << ":" << port << std::endl;
  server.listen_after_bind();
  return 0;
}
