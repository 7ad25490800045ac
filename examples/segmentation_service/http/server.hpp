// A small HTTP/1.1 server for services that face untrusted clients.
//
// Boost.Beast parses (Debian's libboost-dev, header-only); this layer adds
// what a hostile network needs and Beast leaves to its user:
//
//   * every connection is a state machine on one Asio strand; a slow or idle
//     client costs a socket and a small buffer, never a thread;
//   * ordinary routes: one deadline for the whole request (request line,
//     headers and body), counted from the accept or, on a kept-alive
//     connection, from the first byte of the next request; a separate idle
//     timeout between requests; a deadline for writing the response;
//   * caps on the header section (bytes, and number of fields) answered with
//     431; a body limit for Content-Length and chunked bodies answered with
//     413 (before reading the body when Content-Length says so);
//   * a request line, path or body that is not valid UTF-8 answers 400;
//   * handlers run on a bounded worker pool with a bounded queue: when the
//     queue is full the request is answered 503 with Retry-After at once;
//   * streaming routes (request bodies read as they arrive, chunked or
//     Server-Sent Events responses) run on their own threads, at most
//     `max_streams` at once (503 past that), with an idle timeout instead of
//     the whole-request deadline and a body limit of their own;
//   * an optional bearer token, checked (in constant time) before the body is
//     read; never taken from the URL;
//   * graceful stop: the listener closes, idle connections close, requests
//     being handled finish (up to `shutdown_grace`), then the rest is cut.
//
// Every error the layer answers is JSON: {"error": {"code": "...", "message": "..."}}.
//
// Thread safety: Router is filled before Server::run() and read-only after.
// Server::run() blocks the calling thread; Server::stop() may be called from
// any thread (also from a handler), any number of times. Handlers run
// concurrently on pool threads and must be thread-safe themselves; a Request
// and a Stream belong to the one handler call they are given to. A Stream's
// methods must be called only from the thread running its stream handler.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rt_http {

using Duration = std::chrono::milliseconds;

struct Limits {
  std::size_t max_header_bytes = 16 * 1024;   // request line + header fields (431 past it)
  std::size_t max_header_count = 64;          // header fields (431 past it)
  std::size_t max_body_bytes = 1 << 20;       // ordinary routes, Content-Length or chunked (413)
  std::size_t max_stream_body_bytes = std::size_t{256} << 20;  // streaming routes (413)
  Duration request_timeout{10'000};      // whole request: line, headers and body of an ordinary route
  Duration keep_alive_timeout{5'000};    // idle time between requests on one connection
  Duration write_timeout{10'000};        // writing one ordinary response
  Duration stream_idle_timeout{30'000};  // streaming routes: longest time without progress either way
  std::size_t max_connections = 512;     // open connections; past it new ones get 503 and are closed
  std::size_t max_streams = 4;           // streaming requests at once (503 past it)
  unsigned workers = 4;                  // threads running ordinary handlers
  std::size_t queue_limit = 64;          // ordinary requests waiting for a worker (503 past it)
  unsigned io_threads = 1;               // threads running the connections' state machines
  Duration shutdown_grace{10'000};       // how long stop() waits for requests being handled
  unsigned retry_after_seconds = 1;      // Retry-After of a 503
};

struct Header {
  std::string name;  // as sent
  std::string value;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;    // the raw path (percent-escapes kept)
  std::string query;   // after '?', raw
  std::vector<Header> headers;
  std::string body;    // ordinary routes: the whole body (valid UTF-8); streaming routes: empty
  // Path parameters in route order, percent-decoded, valid UTF-8 without control characters.
  std::vector<std::pair<std::string, std::string>> params;

  // The first header of that name (case-insensitive), or "" when absent.
  std::string_view header(std::string_view name) const;
  // The path parameter of that name, or "".
  const std::string& param(std::string_view name) const;
  // The first query parameter of that name, percent-decoded ('+' is a space), or nullopt.
  std::optional<std::string> query_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<Header> headers;  // extra headers (no Content-Length, Connection, Transfer-Encoding)
};

// {"error": {"code": code, "message": message}} with that status.
Response error_response(int status, std::string_view code, std::string_view message);
// A JSON string literal of `text` (invalid UTF-8 replaced).
std::string json_quote(std::string_view text);
std::string_view reason_phrase(int status);

// Why a Stream stopped reading or writing.
enum class StreamError { kNone, kTooLarge, kTimeout, kBadBody, kClosed };

// The connection of a streaming request, seen from its handler's thread. Each
// call blocks until done or until the idle timeout passes without progress.
class Stream {
 public:
  virtual ~Stream() = default;
  // Reads up to `n` bytes of the body into `buf`: returns how many, 0 at its
  // end, or -1 when reading failed (error() says why). The first read sends
  // "100 Continue" when the client asked for it.
  virtual long read_body(char* buf, std::size_t n) = 0;
  virtual StreamError error() const = 0;
  // Sends one whole response (at most once, and not after begin()).
  virtual bool respond(const Response& response) = 0;
  // Starts a chunked response (Transfer-Encoding: chunked); then write() and finish().
  virtual bool begin(int status, std::string_view content_type, const std::vector<Header>& headers = {}) = 0;
  virtual bool write(std::string_view data) = 0;  // one chunk, sent before it returns
  virtual bool finish() = 0;                     // the last chunk
};

using Handler = std::function<Response(const Request&)>;
using StreamHandler = std::function<void(const Request&, Stream&)>;

// Routes: a method and a pattern of '/'-separated segments, each a literal or
// "{name}" (matches one non-empty segment). The first match wins.
class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);
  void add_stream(std::string method, std::string pattern, StreamHandler handler);

  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{name}" = a parameter
    Handler handler;
    StreamHandler stream_handler;
  };
  // The route for `method` and the already-decoded `segments`; `allowed` gets
  // the methods of the routes whose pattern matches (for 405).
  const Route* match(std::string_view method, const std::vector<std::string>& segments,
                     std::vector<std::pair<std::string, std::string>>& params, std::vector<std::string>& allowed) const;

 private:
  std::vector<Route> routes_;
};

struct ServerOptions {
  std::string host = "127.0.0.1";  // an IP address literal, or "localhost"
  std::uint16_t port = 0;          // 0: any free port (port() tells which)
  Limits limits;
  std::string token;               // non-empty: require "Authorization: Bearer <token>"
  bool stop_on_signals = false;    // SIGINT and SIGTERM call stop()
};

// Counters, for tests and logs.
struct ServerStats {
  std::uint64_t connections = 0;        // accepted
  std::uint64_t open_connections = 0;
  std::uint64_t requests = 0;           // handed to a handler
  std::uint64_t rejected_overload = 0;  // 503: queue, stream cap or connection cap
  std::uint64_t timeouts = 0;           // connections cut at a deadline or idle timeout
};

class Server {
 public:
  Server(ServerOptions options, Router router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; returns "" or the reason it could not.
  std::string listen();
  // The port listened on (after listen()).
  std::uint16_t port() const;
  // Serves until stop(); then finishes as described above and returns.
  void run();
  void stop();
  ServerStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// --- A seam for tests and fuzzing ----------------------------------------------
// Runs the bytes one client sent on one connection through what a connection
// does with them, without a socket, a clock or a handler: the same parser,
// header caps, UTF-8 and target checks, token, routing and body limits, for
// each request in turn (pipelined). A request that would reach its handler is
// in `request` (a streaming route's body read whole, within its own limit); a
// request the layer answers itself has that `answer`. The end of the bytes is
// the client closing its side.
struct ParsedExchange {
  std::optional<Request> request;
  std::optional<Response> answer;
  bool streaming = false;  // `request` goes to a streaming route
};
struct ParsedConnection {
  std::vector<ParsedExchange> exchanges;
  bool closed = false;  // the layer closes the connection after the last exchange
};
ParsedConnection parse_connection(std::string_view bytes, const ServerOptions& options, const Router& router);

// --- Helpers, also used by handlers and tests ----------------------------------
bool valid_utf8(std::string_view text);
// Decodes %XX escapes; nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view text);
// Compares in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);
// Whether `host` (an IP literal or "localhost") is a loopback address; nullopt if it is neither.
std::optional<bool> is_loopback_host(std::string_view host);

}  // namespace rt_http
