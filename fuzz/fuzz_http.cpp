// Fuzz target: the example service's HTTP request handling
// (examples/segmentation_service/http), through rt_http::parse_connection:
// the bytes one client sends on one connection go through the connection's
// parser, caps, checks, token and routing, and every request that would reach
// a handler is read the way handlers read it. The first byte picks the
// options (a token or none; the service's limits or small ones).
#include <cstdlib>

#include "fuzz_support.hpp"
#include "http/server.hpp"

using rt_http::Request;
using rt_http::Response;

namespace {

// The example service's routes (examples/segmentation_service/main.cpp).
rt_http::Router make_router() {
  rt_http::Router r;
  auto ok = [](const Request&) { return Response{}; };
  r.add("POST", "/users/export/ids", ok);
  r.add("POST", "/segments/{id}/members", ok);
  r.add("POST", "/campaigns/{id}/restore", ok);
  r.add("GET", "/lifecycle", ok);
  auto stream = [](const Request&, rt_http::Stream&) {};
  r.add_stream("GET", "/campaigns/{id}/recipients", stream);
  r.add_stream("GET", "/canvases/{id}/recipients", stream);
  r.add_stream("POST", "/events", stream);
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const rt_http::Router router = make_router();
  if (size == 0) return 0;
  rt_http::ServerOptions options;
  std::uint8_t pick = data[0];
  if (pick & 1) options.token = "s3cret-token";
  if (pick & 2) {
    options.limits.max_header_bytes = 256;
    options.limits.max_header_count = 4;
    options.limits.max_body_bytes = 64;
    options.limits.max_stream_body_bytes = 128;
  }
  auto parsed = rt_http::parse_connection(retarget::fuzz::as_text(data + 1, size - 1), options, router);
  for (const auto& x : parsed.exchanges) {
    if (x.request && x.answer) std::abort();  // one or the other
    if (x.answer) {
      if (x.answer->status < 400 || x.answer->status > 599) std::abort();  // the layer only refuses
      if (!rt_http::valid_utf8(x.answer->body)) std::abort();
      continue;
    }
    if (!x.request) std::abort();
    const Request& req = *x.request;
    // What a request guarantees its handler (server.hpp).
    if (!rt_http::valid_utf8(req.path) || !rt_http::valid_utf8(req.method)) std::abort();
    if (!x.streaming && !rt_http::valid_utf8(req.body)) std::abort();
    if (req.body.size() > (x.streaming ? options.limits.max_stream_body_bytes : options.limits.max_body_bytes))
      std::abort();
    for (const auto& [k, v] : req.params)
      if (!rt_http::valid_utf8(v)) std::abort();
    (void)req.query_param("step");
    (void)req.query_param("format");
    (void)req.header("Accept");
    (void)req.param("id");
    (void)rt_http::json_quote(req.body);
  }
  return 0;
}
