// The HTTP layer of examples/segmentation_service (http/server.hpp), in
// process on a loopback port, driven with raw sockets: deadlines, caps,
// limits, the bounded pool, streaming routes, tokens and graceful stop.
// Every wait is bounded; a server that misbehaves fails a test, never hangs it.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "http/server.hpp"
#include "raw_http.hpp"

namespace {

using namespace std::chrono_literals;
using raw::Clock;
using rt_http::Request;
using rt_http::Response;

// A gate the /block handler waits at (at most 10 s).
struct Gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> waiting{0};
  void wait() {
    ++waiting;
    std::unique_lock lock(m);
    cv.wait_for(lock, 10s, [&] { return open; });
  }
  void release() {
    std::lock_guard lock(m);
    open = true;
    cv.notify_all();
  }
};

class TestServer {
 public:
  explicit TestServer(rt_http::Limits limits = small_limits(), std::string token = "") {
    rt_http::Router router;
    router.add("GET", "/hello", [](const Request&) {
      Response r;
      r.content_type = "text/plain";
      r.body = "hi";
      return r;
    });
    router.add("POST", "/echo", [](const Request& req) {
      Response r;
      r.content_type = "application/octet-stream";
      r.body = req.body;
      return r;
    });
    router.add("GET", "/items/{id}", [](const Request& req) {
      Response r;
      r.body = "{\"id\": " + rt_http::json_quote(req.param("id")) + "}";
      return r;
    });
    router.add("POST", "/block", [this](const Request&) {
      gate.wait();
      return Response{200, "text/plain", "done", {}};
    });
    router.add_stream("POST", "/stream", [](const Request&, rt_http::Stream& s) {
      char buf[4096];
      std::size_t total = 0;
      while (true) {
        long n = s.read_body(buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) {
          if (s.error() == rt_http::StreamError::kTooLarge) s.respond(rt_http::error_response(413, "body_too_large", "too big"));
          return;
        }
        total += static_cast<std::size_t>(n);
      }
      s.respond({200, "application/json", "{\"bytes\": " + std::to_string(total) + "}", {}});
    });
    router.add_stream("GET", "/sse", [this](const Request&, rt_http::Stream& s) {
      if (!s.begin(200, "text/event-stream")) return;
      s.write("data: 1\n\n");
      gate.wait();
      s.write("data: 2\n\n");
      s.finish();
    });
    router.add("GET", "/bigplain", [](const Request&) {
      return Response{200, "application/octet-stream", std::string(std::size_t{64} << 20, 'p'), {}};
    });
    router.add_stream("GET", "/bigstream", [this](const Request&, rt_http::Stream& s) {
      if (!s.begin(200, "text/csv")) return;
      std::string piece(64 * 1024, 'q');
      auto start = Clock::now();
      for (int i = 0; i < 1024; ++i)  // 64 MiB
        if (!s.write(piece)) {
          write_failed_after_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
          return;
        }
      s.finish();
    });
    rt_http::ServerOptions o;
    o.limits = limits;
    o.token = std::move(token);
    server_ = std::make_unique<rt_http::Server>(o, std::move(router));
    std::string e = server_->listen();
    EXPECT_EQ(e, "");
    thread_ = std::thread([this] { server_->run(); });
  }
  ~TestServer() {
    gate.release();
    server_->stop();
    thread_.join();
  }
  static rt_http::Limits small_limits() {
    rt_http::Limits L;
    L.max_header_bytes = 4096;
    L.max_header_count = 20;
    L.max_body_bytes = 1024;
    L.max_stream_body_bytes = 64 * 1024;
    L.request_timeout = 1000ms;
    L.keep_alive_timeout = 1000ms;
    L.write_timeout = 2000ms;
    L.stream_idle_timeout = 600ms;
    L.workers = 2;
    L.queue_limit = 2;
    L.max_streams = 2;
    L.max_connections = 64;
    L.shutdown_grace = 3000ms;
    return L;
  }
  std::uint16_t port() const { return server_->port(); }
  rt_http::Server& server() { return *server_; }
  Gate gate;
  std::atomic<long> write_failed_after_ms{-1};

 private:
  std::unique_ptr<rt_http::Server> server_;
  std::thread thread_;
};

const char* kGet = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";

bool has_error_shape(const raw::Response& r, const std::string& code) {
  return r.body.find("{\"error\": {\"code\": \"" + code + "\", \"message\": ") == 0;
}

TEST(HttpHelpers, Utf8) {
  EXPECT_TRUE(rt_http::valid_utf8("plain ascii"));
  EXPECT_TRUE(rt_http::valid_utf8("gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(rt_http::valid_utf8("\xff"));
  EXPECT_FALSE(rt_http::valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(rt_http::valid_utf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(rt_http::valid_utf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(rt_http::valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(rt_http::valid_utf8("\xc3"));              // cut short
  EXPECT_FALSE(rt_http::valid_utf8("\xe2\x82"));
}

TEST(HttpHelpers, PercentDecodeTokensLoopback) {
  EXPECT_EQ(rt_http::percent_decode("a%20b%2F"), std::optional<std::string>("a b/"));
  EXPECT_EQ(rt_http::percent_decode("%"), std::nullopt);
  EXPECT_EQ(rt_http::percent_decode("%4"), std::nullopt);
  EXPECT_EQ(rt_http::percent_decode("%zz"), std::nullopt);
  EXPECT_TRUE(rt_http::constant_time_equal("s3cret", "s3cret"));
  EXPECT_FALSE(rt_http::constant_time_equal("s3cret", "s3cre"));
  EXPECT_FALSE(rt_http::constant_time_equal("s3cret", "s3cres"));
  EXPECT_FALSE(rt_http::constant_time_equal("", "x"));
  EXPECT_EQ(rt_http::is_loopback_host("127.0.0.1"), std::optional<bool>(true));
  EXPECT_EQ(rt_http::is_loopback_host("127.0.0.2"), std::optional<bool>(true));
  EXPECT_EQ(rt_http::is_loopback_host("::1"), std::optional<bool>(true));
  EXPECT_EQ(rt_http::is_loopback_host("localhost"), std::optional<bool>(true));
  EXPECT_EQ(rt_http::is_loopback_host("0.0.0.0"), std::optional<bool>(false));
  EXPECT_EQ(rt_http::is_loopback_host("::"), std::optional<bool>(false));
  EXPECT_EQ(rt_http::is_loopback_host("10.1.2.3"), std::optional<bool>(false));
  EXPECT_EQ(rt_http::is_loopback_host("::ffff:10.0.0.1"), std::optional<bool>(false));
  EXPECT_EQ(rt_http::is_loopback_host("example.org"), std::nullopt);
}

TEST(HttpServer, KeepAlivePipeliningAndBodylessPost) {
  TestServer s;
  raw::Conn c(s.port());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.roundtrip(kGet).body, "hi");
  EXPECT_EQ(c.roundtrip(kGet).body, "hi");  // the same connection
  // Two requests in one write.
  ASSERT_TRUE(c.send(std::string(kGet) + "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"));
  EXPECT_EQ(c.read_response().body, "hi");
  EXPECT_EQ(c.read_response().body, "abc");
  // A POST without a body (no Content-Length, no Transfer-Encoding).
  auto r = c.roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  // Expect: 100-continue gets its interim answer.
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"));
  ASSERT_EQ(c.read_some(2000ms), 1);
  EXPECT_EQ(c.pending().rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << c.pending();
  ASSERT_TRUE(c.send("ok"));
  r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
}

TEST(HttpServer, SlowLorisDoesNotBlockAndIsCutAtTheDeadline) {
  TestServer s;  // request_timeout 1 s
  std::vector<raw::Conn> slow;
  for (int i = 0; i < 16; ++i) {
    slow.emplace_back(s.port());
    ASSERT_TRUE(slow.back().send("GET /hello HTTP/1.1\r\nHost: t\r\n"));
  }
  auto start = Clock::now();
  std::vector<bool> closed(slow.size(), false);
  // Trickle a header line on each every 100 ms; ordinary requests meanwhile are answered at once.
  for (int round = 0; round < 25; ++round) {
    for (std::size_t i = 0; i < slow.size(); ++i)
      if (!closed[i] && !slow[i].send("X-Slow: " + std::to_string(round) + "\r\n")) closed[i] = true;
    if (round % 5 == 0) {
      raw::Conn c(s.port());
      auto t0 = Clock::now();
      auto r = c.roundtrip(kGet, 2000ms);
      EXPECT_EQ(r.status, 200);
      EXPECT_LT(Clock::now() - t0, 1000ms);
    }
    std::this_thread::sleep_for(100ms);
  }
  // 2.5 s later every slow connection has been cut (deadline 1 s), without an answer.
  for (std::size_t i = 0; i < slow.size(); ++i) EXPECT_TRUE(closed[i] || slow[i].wait_closed(1000ms)) << i;
  EXPECT_LT(Clock::now() - start, 6s);
  EXPECT_GE(s.server().stats().timeouts, slow.size());
}

TEST(HttpServer, SlowBodyIsCutAtTheWholeRequestDeadline) {
  TestServer s;
  raw::Conn c(s.port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"));
  auto start = Clock::now();
  bool cut = false;
  for (int i = 0; i < 40 && !cut; ++i) {  // a byte every 100 ms: each read makes progress, the deadline still holds
    if (!c.send("x")) cut = true;
    if (c.read_some(100ms) == 0) cut = true;
  }
  EXPECT_TRUE(cut || c.wait_closed(500ms));
  EXPECT_LT(Clock::now() - start, 2500ms);
}

TEST(HttpServer, IdleKeepAliveConnectionIsClosed) {
  TestServer s;  // keep_alive_timeout 1 s
  raw::Conn c(s.port());
  EXPECT_EQ(c.roundtrip(kGet).status, 200);
  auto start = Clock::now();
  EXPECT_TRUE(c.wait_closed(3000ms));
  EXPECT_GT(Clock::now() - start, 700ms);
}

TEST(HttpServer, HeaderCountAndSizeCaps) {
  TestServer s;  // 4096 bytes, 20 fields
  {
    raw::Conn c(s.port());
    std::string req = "GET /hello HTTP/1.1\r\nHost: t\r\n";
    for (int i = 0; i < 30; ++i) req += "X-" + std::to_string(i) + ": v\r\n";
    auto r = c.roundtrip(req + "\r\n");
    EXPECT_EQ(r.status, 431);
    EXPECT_TRUE(has_error_shape(r, "too_many_headers")) << r.body;
    EXPECT_EQ(r.header("connection"), "close");
  }
  {
    raw::Conn c(s.port());
    auto r = c.roundtrip("GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n");
    EXPECT_EQ(r.status, 431);
    EXPECT_TRUE(has_error_shape(r, "headers_too_large")) << r.body;
  }
  {  // A flood of headers is cut after the cap; the server answers and closes.
    raw::Conn c(s.port());
    std::string line = "X-Flood: " + std::string(100, 'f') + "\r\n";
    std::string flood = "GET /hello HTTP/1.1\r\nHost: t\r\n";
    while (flood.size() < (1u << 20)) flood += line;
    c.send(flood);  // may fail part way: the server closes
    auto r = c.read_response(3000ms);
    if (r.status) {
      EXPECT_EQ(r.status, 431);
    }
    EXPECT_TRUE(c.wait_closed(3000ms));
  }
  raw::Conn c(s.port());
  EXPECT_EQ(c.roundtrip(kGet).status, 200);  // still serving
}

TEST(HttpServer, BodyLimitsContentLengthAndChunked) {
  TestServer s;  // 1024 bytes
  {  // Content-Length over the limit: 413 before the body is sent.
    raw::Conn c(s.port());
    auto r = c.roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
    EXPECT_EQ(r.status, 413);
    EXPECT_TRUE(has_error_shape(r, "body_too_large")) << r.body;
  }
  {  // Chunked over the limit.
    raw::Conn c(s.port());
    std::string req = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 8; ++i) req += raw::chunk(std::string(512, 'c'));
    req += "0\r\n\r\n";
    c.send(req);
    auto r = c.read_response();
    EXPECT_EQ(r.status, 413);
    EXPECT_TRUE(has_error_shape(r, "body_too_large")) << r.body;
  }
  {  // Chunked within the limit.
    raw::Conn c(s.port());
    auto r = c.roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + raw::chunk("abc") +
                         raw::chunk("def") + "0\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "abcdef");
  }
  {  // Request smuggling shapes: Content-Length with chunked, two different lengths.
    raw::Conn c(s.port());
    auto r = c.roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" +
                         raw::chunk("abc") + "0\r\n\r\n");
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(c.wait_closed(2000ms));
    raw::Conn d(s.port());
    r = d.roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde");
    EXPECT_EQ(r.status, 400);
  }
  {  // Malformed chunk sizes and an unknown transfer coding.
    raw::Conn c(s.port());
    auto r = c.roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n");
    EXPECT_EQ(r.status, 400);
    raw::Conn d(s.port());
    r = d.roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n");
    EXPECT_GE(r.status, 400);
    EXPECT_LT(r.status, 600);
  }
}

TEST(HttpServer, QueueFullAnswers503WithRetryAfter) {
  auto L = TestServer::small_limits();
  L.workers = 1;
  L.queue_limit = 1;
  TestServer s(L);
  const char* block = "POST /block HTTP/1.1\r\nHost: t\r\n\r\n";
  raw::Conn a(s.port()), b(s.port()), c(s.port());
  ASSERT_TRUE(a.send(block));
  for (int i = 0; i < 200 && s.gate.waiting.load() < 1; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(s.gate.waiting.load(), 1);  // the one worker is busy
  ASSERT_TRUE(b.send(block));           // queued
  std::this_thread::sleep_for(100ms);
  auto start = Clock::now();
  auto r = c.roundtrip(block, 2000ms);  // no room: answered at once
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("retry-after"), "1");
  EXPECT_TRUE(has_error_shape(r, "overloaded")) << r.body;
  EXPECT_LT(Clock::now() - start, 1000ms);
  s.gate.release();
  EXPECT_EQ(a.read_response().status, 200);
  EXPECT_EQ(b.read_response().status, 200);
  EXPECT_GE(s.server().stats().rejected_overload, 1u);
}

TEST(HttpServer, InvalidUtf8AndBadRequestLines) {
  TestServer s;
  auto ask = [&](const std::string& req) {
    raw::Conn c(s.port());
    return c.roundtrip(req);
  };
  auto r = ask("GET /items/%FF HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(has_error_shape(r, "invalid_utf8")) << r.body;
  EXPECT_EQ(ask("GET /items/%C0%AF HTTP/1.1\r\nHost: t\r\n\r\n").status, 400);
  EXPECT_EQ(ask("GET /items/a%zz HTTP/1.1\r\nHost: t\r\n\r\n").status, 400);
  EXPECT_EQ(ask("GET /items/a%00b HTTP/1.1\r\nHost: t\r\n\r\n").status, 400);
  r = ask("GET /items/\xff HTTP/1.1\r\nHost: t\r\n\r\n");  // a raw byte
  EXPECT_EQ(r.status, 400);
  r = ask("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\na\xff" "b");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(has_error_shape(r, "invalid_utf8")) << r.body;
  r = ask("GET /items/gr%C3%BC%C3%9F HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"id\": \"gr\xc3\xbc\xc3\x9f\"}");
  EXPECT_EQ(ask("NOT A REQUEST\r\n\r\n").status, 400);
  EXPECT_EQ(ask("GET http://other/hello HTTP/1.1\r\nHost: t\r\n\r\n").status, 400);
  EXPECT_EQ(ask("GET /hello?q=%FF HTTP/1.1\r\nHost: t\r\n\r\n").status, 400);
  EXPECT_EQ(ask("GET /hello?q=%F HTTP/1.1\r\nHost: t\r\n\r\n").status, 400);
  EXPECT_EQ(ask("GET /hello?q=%C3%BC HTTP/1.1\r\nHost: t\r\n\r\n").status, 200);
  r = ask("GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(has_error_shape(r, "not_found")) << r.body;
  r = ask("DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET");
}

TEST(HttpServer, BearerToken) {
  TestServer s(TestServer::small_limits(), "s3cret");
  auto ask = [&](const std::string& req) {
    raw::Conn c(s.port());
    return c.roundtrip(req);
  };
  auto r = ask(kGet);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("www-authenticate"), "Bearer");
  EXPECT_TRUE(has_error_shape(r, "unauthorized")) << r.body;
  EXPECT_EQ(ask("GET /hello HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cre\r\n\r\n").status, 401);
  EXPECT_EQ(ask("GET /hello HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3crets\r\n\r\n").status, 401);
  EXPECT_EQ(ask("GET /hello HTTP/1.1\r\nHost: t\r\nAuthorization: s3cret\r\n\r\n").status, 401);
  EXPECT_EQ(ask("GET /hello?token=s3cret HTTP/1.1\r\nHost: t\r\n\r\n").status, 401);
  EXPECT_EQ(ask("GET /hello?access_token=s3cret HTTP/1.1\r\nHost: t\r\n\r\n").status, 401);
  EXPECT_EQ(ask("GET /hello HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\n\r\n").status, 200);
  // Unauthenticated: no body is read, whatever its size.
  r = ask("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n");
  EXPECT_EQ(r.status, 401);
  // Unauthenticated requests learn nothing of the routes.
  EXPECT_EQ(ask("GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n").status, 401);
}

TEST(HttpServer, StreamingRouteHasItsOwnBodyLimitAndIdleTimeout) {
  TestServer s;  // ordinary 1024 bytes, streams 64 KiB, idle 600 ms, request deadline 1 s
  {  // Over the ordinary limit but within the stream limit, trickled past the request deadline.
    raw::Conn c(s.port());
    ASSERT_TRUE(c.send("POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
    for (int i = 0; i < 8; ++i) {
      ASSERT_TRUE(c.send(raw::chunk(std::string(4096, 's'))));
      std::this_thread::sleep_for(200ms);  // 1.6 s in all: past request_timeout, each gap under the idle timeout
    }
    auto r = c.roundtrip("0\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"bytes\": 32768}");
    EXPECT_EQ(c.roundtrip(kGet).status, 200);  // the connection is reusable
  }
  {  // Over the stream limit, chunked.
    raw::Conn c(s.port());
    c.send("POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    bool sent = true;
    for (int i = 0; i < 20 && sent; ++i) sent = c.send(raw::chunk(std::string(8192, 'x')));
    auto r = c.read_response();
    EXPECT_EQ(r.status, 413);
  }
  {  // And by Content-Length, answered before any body.
    raw::Conn c(s.port());
    EXPECT_EQ(c.roundtrip("POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 70000\r\n\r\n").status, 413);
  }
  {  // Expect: 100-continue on a streaming route.
    raw::Conn c(s.port());
    ASSERT_TRUE(c.send("POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
    ASSERT_EQ(c.read_some(2000ms), 1);
    EXPECT_EQ(c.pending().rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << c.pending();
    auto r = c.roundtrip("12345");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"bytes\": 5}");
  }
  {  // A stalled stream is cut after the idle timeout.
    raw::Conn c(s.port());
    ASSERT_TRUE(c.send("POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + raw::chunk("abc")));
    auto start = Clock::now();
    EXPECT_TRUE(c.wait_closed(3000ms));
    auto took = Clock::now() - start;
    EXPECT_GT(took, 400ms);
    EXPECT_LT(took, 2500ms);
  }
}

TEST(HttpServer, ClientsThatDoNotReadAreCut) {
  TestServer s;  // write_timeout 2 s, stream idle 600 ms
  {  // An ordinary answer of 64 MiB to a client that reads nothing: cut at the write deadline.
    raw::Conn c(s.port());
    ASSERT_TRUE(c.send("GET /bigplain HTTP/1.1\r\nHost: t\r\n\r\n"));
    std::this_thread::sleep_for(3500ms);
    for (int i = 0; i < 200 && s.server().stats().open_connections > 0; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(s.server().stats().open_connections, 0u);
  }
  {  // A streamed answer: the handler's write fails after the idle timeout, and its slot is free again.
    raw::Conn c(s.port());
    ASSERT_TRUE(c.send("GET /bigstream HTTP/1.1\r\nHost: t\r\n\r\n"));
    for (int i = 0; i < 300 && s.write_failed_after_ms.load() < 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_GE(s.write_failed_after_ms.load(), 0) << "the write never gave up";
    raw::Conn a(s.port()), b(s.port());
    EXPECT_EQ(a.roundtrip("POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx").status, 200);
    EXPECT_EQ(b.roundtrip("POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx").status, 200);
  }
}

TEST(HttpServer, StreamingConnectionCap) {
  TestServer s;  // max_streams 2
  raw::Conn a(s.port()), b(s.port());
  ASSERT_TRUE(a.send("GET /sse HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(b.send("GET /sse HTTP/1.1\r\nHost: t\r\n\r\n"));
  for (int i = 0; i < 200 && s.gate.waiting.load() < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(s.gate.waiting.load(), 2);
  raw::Conn c(s.port());
  auto r = c.roundtrip("GET /sse HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("retry-after"), "1");
  // Ordinary routes are not affected by the streams.
  raw::Conn d(s.port());
  EXPECT_EQ(d.roundtrip(kGet).status, 200);
  s.gate.release();
  r = a.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/event-stream");
  EXPECT_EQ(r.body, "data: 1\n\ndata: 2\n\n");
}

TEST(HttpServer, ConnectionCap) {
  auto L = TestServer::small_limits();
  L.max_connections = 4;
  TestServer s(L);
  std::vector<raw::Conn> idle;
  for (int i = 0; i < 4; ++i) {
    idle.emplace_back(s.port());
    ASSERT_EQ(idle.back().roundtrip(kGet).status, 200);  // connected and counted
  }
  raw::Conn c(s.port());
  auto r = c.roundtrip(kGet);
  EXPECT_EQ(r.status, 503);
  idle.clear();
  for (int i = 0; i < 100 && s.server().stats().open_connections > 0; ++i) std::this_thread::sleep_for(10ms);
  raw::Conn d(s.port());
  EXPECT_EQ(d.roundtrip(kGet).status, 200);
}

TEST(HttpServer, GracefulStopFinishesRequestsInFlight) {
  auto s = std::make_unique<TestServer>();
  raw::Conn busy(s->port()), idle(s->port());
  ASSERT_EQ(idle.roundtrip(kGet).status, 200);
  ASSERT_TRUE(busy.send("POST /block HTTP/1.1\r\nHost: t\r\n\r\n"));
  for (int i = 0; i < 200 && s->gate.waiting.load() < 1; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(s->gate.waiting.load(), 1);
  s->server().stop();
  EXPECT_TRUE(idle.wait_closed(2000ms));  // idle connections close at once
  std::this_thread::sleep_for(100ms);
  s->gate.release();
  auto r = busy.read_response(3000ms);  // the request in flight is answered
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("connection"), "close");
  auto start = Clock::now();
  s.reset();  // run() has returned
  EXPECT_LT(Clock::now() - start, 3s);
}

}  // namespace
