// retarget_service: an example segmentation service embedding Retarget.
//
//   retarget_service --data-dir DIR [--config F] [--host 127.0.0.1] [--port 8080]
//                    [--token-file F] [--now TIME] [limits...]   (--help lists them all)
//
// Endpoints (JSON in, JSON out; every error is a 4xx/5xx status with
// {"error": {"code": "...", "message": "..."}}; README.md beside this file):
//   POST /users/export/ids        {"external_ids": [...], "fields_to_export": [...]} -> 201 users export
//   POST /segments/{id}/members   [{}] -> {"segment", "count", "members", "warnings", "timing"}
//   POST /campaigns/{id}/restore  [{}] -> 202 {"job", "state", "sources", "moved", "total"}
//   GET  /lifecycle               -> [{"source", "status", "tier", "pinned", ...}]
//   POST /events                  JSON Lines, streamed -> the ingest report, once the events are durable
//                                 (Accept: text/event-stream: progress events, then the report)
//   GET  /campaigns/{id}/recipients, /canvases/{id}/recipients[?step=S]  -> the User Data CSV, streamed
// The HTTP layer (http/server.hpp) bounds every request; this file only maps
// routes onto the engine's public API.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "http/server.hpp"
#include "retarget/engine.hpp"
#include "retarget/format.hpp"

namespace {

using nlohmann::json;
using rt_http::Request;
using rt_http::Response;

std::string dump(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n"; }

Response reply(int status, const json& body) {
  Response r;
  r.status = status;
  r.body = dump(body);
  return r;
}
Response error(int status, std::string_view code, std::string_view message) {
  return rt_http::error_response(status, code, message);
}

// The HTTP status and error code of an engine failure.
Response engine_error(const retarget::Status& s) {
  using C = retarget::Status::Code;
  switch (s.code()) {
    case C::kNotFound: return error(404, "not_found", s.message());
    case C::kInvalidInput: return error(422, "invalid_input", s.message());
    case C::kIoError: return error(500, "io_error", s.message());
    case C::kTimedOut: return error(503, "timed_out", s.message());
    default: return error(409, "failed", s.message());
  }
}

// The body as a JSON object ({} when there is none); an error response otherwise.
std::optional<Response> parse_body(const Request& req, json& out) {
  if (std::all_of(req.body.begin(), req.body.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; })) {
    out = json::object();
    return std::nullopt;
  }
  out = json::parse(req.body, nullptr, false);
  if (out.is_discarded()) return error(400, "invalid_json", "the request body is not valid JSON");
  if (!out.is_object()) return error(400, "invalid_json", "the request body must be a JSON object");
  return std::nullopt;
}

json report_json(const retarget::IngestReport& r) {
  json rej = json::array();
  for (const auto& x : r.rejections) rej.push_back({{"line", x.line}, {"reason", x.reason}});
  return {{"lines", r.lines},       {"accepted", r.accepted}, {"duplicates", r.duplicates},
          {"rejected", r.rejected}, {"rejections", rej},      {"seconds", r.seconds}};
}

// Ingests a streamed body block by block (whole lines, at most `block` bytes),
// adding up the reports the way `retarget ingest` does for a file: line
// numbers count from the start of the body; a line longer than a block is
// rejected and skipped.
class StreamedIngest {
 public:
  StreamedIngest(retarget::Engine& engine, std::size_t block) : engine_(engine), block_(std::max<std::size_t>(block, 1)) {}

  // Feeds body bytes; ingests every complete block. Returns a failed status when the engine fails.
  retarget::Status feed(std::string_view data) {
    while (!data.empty()) {
      if (skipping_) {
        auto nl = data.find('\n');
        if (nl == std::string_view::npos) return retarget::Status::Ok();
        data.remove_prefix(nl + 1);
        skipping_ = false;
        continue;
      }
      std::size_t take = std::min(data.size(), block_ - pending_.size());
      pending_.append(data.substr(0, take));
      data.remove_prefix(take);
      if (pending_.size() < block_) continue;
      auto nl = pending_.rfind('\n');
      if (nl == std::string::npos) {  // one line fills a block
        ++line_base_;
        ++total_.lines, ++total_.rejected;
        if (total_.rejections.size() < 1000)
          total_.rejections.push_back({line_base_, "line is over " + std::to_string(block_) + " bytes, the service's block size"});
        pending_.clear();
        skipping_ = true;
        continue;
      }
      std::string rest = pending_.substr(nl + 1);
      pending_.resize(nl + 1);
      retarget::Status s = ingest_pending();
      if (!s.ok()) return s;
      pending_ = std::move(rest);
    }
    return retarget::Status::Ok();
  }
  // The end of the body: ingests what is left.
  retarget::Status finish() {
    if (skipping_ || pending_.empty()) return retarget::Status::Ok();
    return ingest_pending();
  }
  const retarget::IngestReport& report() const { return total_; }
  std::uint64_t blocks() const { return blocks_; }

 private:
  retarget::Status ingest_pending() {
    auto r = engine_.ingest_text(pending_);
    if (!r.ok()) return r.status();
    total_.lines += r->lines, total_.accepted += r->accepted, total_.duplicates += r->duplicates;
    total_.rejected += r->rejected;
    total_.seconds += r->seconds;
    for (const auto& x : r->rejections)
      if (total_.rejections.size() < 1000) total_.rejections.push_back({x.line + line_base_, x.reason});
    line_base_ += static_cast<std::uint64_t>(std::count(pending_.begin(), pending_.end(), '\n'));
    if (!pending_.empty() && pending_.back() != '\n') ++line_base_;
    pending_.clear();
    ++blocks_;
    return retarget::Status::Ok();
  }

  retarget::Engine& engine_;
  std::size_t block_;
  std::string pending_;
  bool skipping_ = false;
  std::uint64_t line_base_ = 0, blocks_ = 0;
  retarget::IngestReport total_;
};

void add_routes(rt_http::Router& router, retarget::Engine& engine, std::size_t ingest_block) {
  router.add("POST", "/users/export/ids", [&engine](const Request& req) {
    json body;
    if (auto e = parse_body(req, body)) return *e;
    if (!body.contains("external_ids") || !body["external_ids"].is_array())
      return error(400, "invalid_argument", "'external_ids' must be an array of strings");
    std::vector<std::string> ids;
    for (const auto& id : body["external_ids"]) {
      if (!id.is_string()) return error(400, "invalid_argument", "'external_ids' must be an array of strings");
      ids.push_back(id.get<std::string>());
    }
    std::optional<std::set<std::string>> keep;
    if (body.contains("fields_to_export")) {
      if (!body["fields_to_export"].is_array())
        return error(400, "invalid_argument", "'fields_to_export' must be an array of strings");
      keep.emplace(std::set<std::string>{"external_id"});
      for (const auto& f : body["fields_to_export"]) {
        if (!f.is_string()) return error(400, "invalid_argument", "'fields_to_export' must be an array of strings");
        keep->insert(f.get<std::string>());
      }
    }
    auto exported = engine.export_users(ids);  // at most limits.max_users_per_request ids
    if (!exported.ok()) return error(400, "invalid_argument", exported.status().message());
    json out = json::parse(retarget::to_json(*exported), nullptr, false);
    if (out.is_discarded()) return error(500, "internal", "the export could not be read");
    if (keep)
      for (auto& user : out["users"])
        for (auto it = user.begin(); it != user.end();) it = keep->count(it.key()) ? std::next(it) : user.erase(it);
    return reply(201, out);
  });

  router.add("POST", "/segments/{id}/members", [&engine](const Request& req) {
    json body;
    if (auto e = parse_body(req, body)) return *e;
    // Paged: {"limit": N, "after": "<the last page's next_after>"}.
    retarget::EvaluateOptions options;
    if (body.is_object() && body.contains("limit")) {
      if (!body["limit"].is_number_unsigned()) return error(400, "invalid_argument", "'limit' must be a non-negative integer");
      options.members_limit = body["limit"].get<std::size_t>();
    }
    if (body.is_object() && body.contains("after")) {
      if (!body["after"].is_string()) return error(400, "invalid_argument", "'after' must be a string");
      options.members_after = body["after"].get<std::string>();
    }
    auto r = engine.evaluate(req.param("id"), options);
    if (!r.ok()) return engine_error(r.status());
    json out{{"segment", r->id},
             {"count", r->count},
             {"members", r->members},
             {"warnings", r->warnings},
             {"timing", {{"evaluate_ms", r->evaluate_ms}}}};
    if (!r->next_after.empty()) out["next_after"] = r->next_after;
    return reply(200, out);
  });

  router.add("POST", "/campaigns/{id}/restore", [&engine](const Request& req) {
    json body;
    if (auto e = parse_body(req, body)) return *e;
    auto job = engine.restore({{req.param("id")}, {}, {}});
    if (!job.ok()) return engine_error(job.status());
    return reply(202, {{"job", job->id}, {"state", std::string(retarget::to_string(job->state))}, {"sources", job->sources}, {"moved", job->moved},
                       {"total", job->total}});
  });

  router.add("GET", "/lifecycle", [&engine](const Request&) {
    json out = json::array();
    for (const auto& s : engine.lifecycle_status()) {
      json pins = json::array();
      for (const auto& p : s.pinned_by) pins.push_back({{"pinner", p.pinner}, {"path", p.path}});
      json j{{"source", s.key}, {"status", std::string(retarget::to_string(s.status))},
             {"tier", std::string(retarget::tier_label(s.tier, s.restoring))}, {"pinned", s.pinned}, {"pinned_by", pins},
             {"records", s.records}};
      if (s.expires_at_ms) j["expires_at"] = retarget::format_time_ms(*s.expires_at_ms);
      out.push_back(j);
    }
    return reply(200, out);
  });

  // Streamed exports: the User Data CSV of a campaign or a Canvas (optionally
  // ?step=), written in chunks, each bounded by the stream idle timeout.
  for (std::string kind : {"campaign", "canvas"}) {
    router.add_stream("GET", "/" + kind + (kind == "canvas" ? "es" : "s") + "/{id}/recipients",
                      [&engine, kind](const Request& req, rt_http::Stream& stream) {
                        std::string step = kind == "canvas" ? req.query_param("step").value_or("") : "";
                        auto rows = engine.export_recipients(
                            kind == "canvas" ? retarget::SourceKind::kCanvas : retarget::SourceKind::kCampaign,
                            req.param("id"), step);
                        if (!rows.ok()) return (void)stream.respond(engine_error(rows.status()));
                        std::vector<rt_http::Header> headers;
                        for (const auto& w : rows->warnings) headers.push_back({"X-Retarget-Warning", w});
                        auto csv = std::make_unique<std::string>(retarget::to_csv(*rows));
                        if (!stream.begin(200, "text/csv; charset=utf-8", headers)) return;
                        constexpr std::size_t kPiece = 64 * 1024;
                        for (std::size_t at = 0; at < csv->size(); at += kPiece)
                          if (!stream.write(std::string_view(*csv).substr(at, kPiece))) return;
                        stream.finish();
                      });
  }

  // A streaming route: the body is read as it arrives and ingested block by
  // block; the answer comes once every event is durable.
  router.add_stream("POST", "/events", [&engine, ingest_block](const Request& req, rt_http::Stream& stream) {
    bool sse = req.header("Accept").find("text/event-stream") != std::string_view::npos;
    auto event = [&](std::string_view name, const json& data) {
      return stream.write("event: " + std::string(name) + "\ndata: " +
                          data.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n");
    };
    auto fail = [&](int status, std::string_view code, std::string_view message) {
      if (!sse) return (void)stream.respond(error(status, code, message));
      event("error", json::parse(error(status, code, message).body));
      stream.finish();
    };
    if (sse && !stream.begin(200, "text/event-stream", {{"Cache-Control", "no-store"}})) return;
    StreamedIngest ingest(engine, ingest_block);
    std::vector<char> buf(64 * 1024);
    while (true) {
      long n = stream.read_body(buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0) {
        switch (stream.error()) {
          case rt_http::StreamError::kTooLarge:
            return fail(413, "body_too_large", "the events body exceeds the ingest limit (--max-ingest-bytes); "
                                               "the blocks ingested before it are kept");
          case rt_http::StreamError::kBadBody:
            return fail(400, "bad_request", "malformed request body (chunked encoding)");
          default:
            return;  // timed out or gone: nobody to answer
        }
      }
      std::uint64_t before = ingest.blocks();
      retarget::Status s = ingest.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      if (!s.ok()) return fail(500, "io_error", s.message());
      if (sse && ingest.blocks() != before) {
        const auto& r = ingest.report();
        if (!event("durable", {{"lines", r.lines}, {"accepted", r.accepted}, {"duplicates", r.duplicates},
                               {"rejected", r.rejected}}))
          return;
      }
    }
    retarget::Status s = ingest.finish();
    if (!s.ok()) return fail(500, "io_error", s.message());
    if (!sse) {
      stream.respond(reply(200, report_json(ingest.report())));
      return;
    }
    event("report", report_json(ingest.report()));
    stream.finish();
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"retarget_service: an example segmentation service embedding Retarget"};
  std::string data_dir = "retarget-data", config, host = "127.0.0.1", token_file, now;
  int port = 8080;
  bool allow_insecure_remote = false;
  std::vector<std::string> plugins;
  rt_http::Limits L;
  std::size_t ingest_block = std::size_t{4} << 20;
  std::int64_t request_ms = L.request_timeout.count(), keep_alive_ms = L.keep_alive_timeout.count(),
               write_ms = L.write_timeout.count(), stream_idle_ms = L.stream_idle_timeout.count(),
               grace_ms = L.shutdown_grace.count();
  app.add_option("--data-dir", data_dir, "the engine's data directory (or :memory:)")->capture_default_str();
  app.add_option("--config", config, "config file");
  app.add_option("--plugins", plugins, "extra plugin directory");
  app.add_option("--now", now, "fix the engine's clock at this RFC 3339 time (like the command line)");
  app.add_option("--host", host, "IP address to listen on (or localhost)")->capture_default_str();
  app.add_option("--port", port, "port (0 = any free port, printed on start)")->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--token-file", token_file, "require 'Authorization: Bearer <token>' with the token on this file's first line");
  app.add_flag("--allow-insecure-remote", allow_insecure_remote,
               "allow a non-loopback --host without --token-file (anyone who reaches it may use it)");
  app.add_option("--max-body-bytes", L.max_body_bytes, "largest request body of an ordinary route (Content-Length or chunked)")
      ->capture_default_str();
  app.add_option("--max-ingest-bytes", L.max_stream_body_bytes, "largest body of POST /events")->capture_default_str();
  app.add_option("--ingest-block-bytes", ingest_block, "POST /events ingests its body in blocks of whole lines of at most this size")
      ->capture_default_str()->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 30));
  app.add_option("--max-header-bytes", L.max_header_bytes, "largest request line + header section")->capture_default_str()
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 20));
  app.add_option("--max-headers", L.max_header_count, "most header fields in a request")->capture_default_str();
  app.add_option("--request-timeout-ms", request_ms, "deadline for a whole request (line, headers, body) of an ordinary route")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--keep-alive-timeout-ms", keep_alive_ms, "idle time allowed between requests on a connection")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--write-timeout-ms", write_ms, "deadline for writing one response")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--stream-idle-timeout-ms", stream_idle_ms, "streaming routes: longest time without progress")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--max-connections", L.max_connections, "open connections at most (503 past it)")->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-streams", L.max_streams, "streaming requests at once (503 past it)")->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{256}));
  app.add_option("--workers", L.workers, "threads running ordinary requests")->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  app.add_option("--queue-limit", L.queue_limit, "ordinary requests waiting for a worker (503 past it)")->capture_default_str();
  app.add_option("--io-threads", L.io_threads, "threads running the connections")->capture_default_str()->check(CLI::Range(1u, 64u));
  app.add_option("--shutdown-grace-ms", grace_ms, "on SIGINT/SIGTERM, how long requests being handled may finish")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  L.request_timeout = rt_http::Duration(request_ms);
  L.keep_alive_timeout = rt_http::Duration(keep_alive_ms);
  L.write_timeout = rt_http::Duration(write_ms);
  L.stream_idle_timeout = rt_http::Duration(stream_idle_ms);
  L.shutdown_grace = rt_http::Duration(grace_ms);

  std::string token;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) {
      std::cerr << "retarget_service: cannot read the token file '" << token_file << "'\n";
      return 2;
    }
    std::getline(in, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) token.pop_back();
    if (token.empty()) {
      std::cerr << "retarget_service: the token file is empty\n";
      return 2;
    }
  }
  auto loopback = rt_http::is_loopback_host(host);
  if (!loopback) {
    std::cerr << "retarget_service: --host '" << host << "' is not an IP address (nor localhost)\n";
    return 2;
  }
  if (!*loopback && token.empty() && !allow_insecure_remote) {
    std::cerr << "retarget_service: refusing to listen on the non-loopback address " << host
              << " without --token-file; pass --allow-insecure-remote to do it anyway\n";
    return 2;
  }

  retarget::EngineOptions options;
  options.config_path = config;
  options.data_dir = data_dir;
  options.extra_plugin_dirs = plugins;
  options.scheduler = true;  // a long-running host sweeps on schedule
  if (!now.empty()) {
    auto t = retarget::parse_time_ms(now);
    if (!t) {
      std::cerr << "retarget_service: --now '" << now << "' is not an RFC 3339 time such as 2026-06-01T00:00:00Z\n";
      return 2;
    }
    options.now_ms = *t;
  }
  auto opened = retarget::Engine::Open(options);
  if (!opened.ok()) {
    std::cerr << "retarget_service: " << opened.status().message() << "\n";
    return opened.status().exit_code();
  }
  retarget::Engine& engine = **opened;
  for (const auto& r : engine.refused_plugins())
    std::cerr << "retarget_service: warning: plugin " << r.library << " refused: " << r.reason << "\n";

  rt_http::Router router;
  add_routes(router, engine, ingest_block);
  rt_http::ServerOptions so;
  so.host = host;
  so.port = static_cast<std::uint16_t>(port);
  so.limits = L;
  so.token = token;
  so.stop_on_signals = true;
  rt_http::Server server(so, std::move(router));
  if (std::string e = server.listen(); !e.empty()) {
    std::cerr << "retarget_service: " << e << "\n";
    return 1;
  }
  if (!*loopback && token.empty())
    std::cerr << "retarget_service: warning: listening on " << host << " with no token (--allow-insecure-remote)\n";
  std::cout << "listening on " << host << ":" << server.port() << std::endl;
  server.run();
  std::cout << "stopped" << std::endl;
  return 0;
}
