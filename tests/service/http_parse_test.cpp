// rt_http::parse_connection: the connection's parsing and checks without a
// socket (the seam the HTTP fuzz target drives). The same decisions as a
// connection: answers and closes for what it refuses, requests for handlers.
#include <gtest/gtest.h>

#include "http/server.hpp"

namespace {

using rt_http::ParsedConnection;
using rt_http::Request;
using rt_http::Response;

rt_http::Router router() {
  rt_http::Router r;
  r.add("GET", "/hello", [](const Request&) { return Response{}; });
  r.add("POST", "/echo", [](const Request&) { return Response{}; });
  r.add("GET", "/items/{id}", [](const Request&) { return Response{}; });
  r.add_stream("POST", "/stream", [](const Request&, rt_http::Stream&) {});
  return r;
}

ParsedConnection parse(std::string_view bytes, std::string token = "") {
  rt_http::ServerOptions o;
  o.limits.max_header_bytes = 1024;
  o.limits.max_header_count = 8;
  o.limits.max_body_bytes = 64;
  o.limits.max_stream_body_bytes = 128;
  o.token = std::move(token);
  return rt_http::parse_connection(bytes, o, router());
}

int status_of(const ParsedConnection& c, std::size_t i) {
  return c.exchanges.at(i).answer ? c.exchanges[i].answer->status : 0;
}

TEST(HttpParse, PipelinedRequestsReachTheirRoutesWithDecodedParams) {
  auto c = parse("GET /items/a%20b?x=1+2 HTTP/1.1\r\nHost: h\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                 "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  ASSERT_EQ(c.exchanges.size(), 3u);
  EXPECT_FALSE(c.closed);
  ASSERT_TRUE(c.exchanges[0].request);
  EXPECT_EQ(c.exchanges[0].request->param("id"), "a b");
  EXPECT_EQ(c.exchanges[0].request->query_param("x"), "1 2");
  EXPECT_EQ(c.exchanges[1].request->body, "hello");
  EXPECT_EQ(c.exchanges[2].request->body, "abc");
}

TEST(HttpParse, RefusalsAreAnsweredAndClose) {
  EXPECT_EQ(status_of(parse("GET /nope HTTP/1.1\r\n\r\n"), 0), 404);
  EXPECT_EQ(status_of(parse("DELETE /hello HTTP/1.1\r\n\r\n"), 0), 405);
  EXPECT_EQ(status_of(parse("GET /hello HTTP/1.1\r\nX: " + std::string(2000, 'a') + "\r\n\r\n"), 0), 431);
  std::string many = "GET /hello HTTP/1.1\r\n";
  for (int i = 0; i < 9; ++i) many.append("X").append(std::to_string(i)).append(": y\r\n");
  EXPECT_EQ(status_of(parse(many + "\r\n"), 0), 431);
  EXPECT_EQ(status_of(parse("POST /echo HTTP/1.1\r\nContent-Length: 65\r\n\r\n"), 0), 413);
  EXPECT_EQ(status_of(parse("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n" + std::string(65, 'a') +
                            "\r\n0\r\n\r\n"),
                      0),
            413);
  EXPECT_EQ(status_of(parse("GET /items/%ff HTTP/1.1\r\n\r\n"), 0), 400);
  EXPECT_EQ(status_of(parse("GET /items/%0a HTTP/1.1\r\n\r\n"), 0), 400);
  EXPECT_EQ(status_of(parse("GET /hello?%zz HTTP/1.1\r\n\r\n"), 0), 400);
  EXPECT_EQ(status_of(parse("GET hello HTTP/1.1\r\n\r\n"), 0), 400);
  EXPECT_EQ(status_of(parse("GARBAGE\r\n\r\n"), 0), 400);
  EXPECT_EQ(status_of(parse("GET /hello HTTP/1.1\r\n\r\n", "secret"), 0), 401);
  auto ok = parse("GET /hello HTTP/1.1\r\nAuthorization: Bearer secret\r\n\r\n", "secret");
  EXPECT_TRUE(ok.exchanges.at(0).request);
  EXPECT_TRUE(parse("GET /nope HTTP/1.1\r\n\r\n").closed);
}

TEST(HttpParse, ABodyThatIsNotUtf8IsAnsweredAndTheConnectionGoesOn) {
  auto c = parse("POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\n\xff\xfeGET /hello HTTP/1.1\r\n\r\n");
  ASSERT_EQ(c.exchanges.size(), 2u);
  EXPECT_EQ(status_of(c, 0), 400);
  EXPECT_TRUE(c.exchanges[1].request);
}

TEST(HttpParse, AClientThatStopsMidRequestIsClosedWithoutAnAnswer) {
  for (const char* partial : {"GET /hel", "GET /hello HTTP/1.1\r\nHost: h\r\n", "POST /echo HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc"}) {
    auto c = parse(partial);
    EXPECT_TRUE(c.closed) << partial;
    EXPECT_TRUE(c.exchanges.empty()) << partial;
  }
  auto c = parse("GET /hello HTTP/1.0\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");  // HTTP/1.0: no keep-alive
  EXPECT_EQ(c.exchanges.size(), 1u);
  EXPECT_TRUE(c.closed);
}

TEST(HttpParse, AStreamingRouteHasItsOwnBodyLimit) {
  auto c = parse("POST /stream HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'));
  ASSERT_TRUE(c.exchanges.at(0).request);
  EXPECT_TRUE(c.exchanges[0].streaming);
  EXPECT_EQ(status_of(parse("POST /stream HTTP/1.1\r\nContent-Length: 129\r\n\r\n"), 0), 413);
}

}  // namespace
