// The connection state machine, the pools and the listener (see server.hpp).
//
// A connection moves through these states, all on its own strand:
//
//   accept ──► kReading (request line + headers, then the body of an ordinary
//   route, all before one deadline) ──► kHandling (a worker runs the handler)
//   ──► kWriting (write deadline) ──► kIdle (keep-alive idle timeout; the
//   first byte of the next request starts its deadline) ──► kReading ...
//
//   kReading ──► kStreaming (a streaming route: its thread reads the body and
//   writes the response through Stream, each step bounded by the idle timeout)
//
// An error answered before the body was read (401, 404, 405, 413, 431, ...)
// closes the connection: the response is written, the sending side shut down,
// and what the client still sends is read and dropped for a moment (at most
// 1 MiB, 1 s) so that it sees the response rather than a reset.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange under C++20
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "server.hpp"

namespace rt_http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// A fixed set of threads and a bounded queue: try_submit refuses a job when
// every thread is busy and `queue_limit` jobs are already waiting.
class Pool {
 public:
  Pool(unsigned threads, std::size_t queue_limit) : capacity_(threads + queue_limit) {
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~Pool() { shutdown(); }

  bool try_submit(std::function<void()> job) {
    std::lock_guard lock(m_);
    if (stopping_ || pending_ >= capacity_) return false;
    ++pending_;
    queue_.push_back(std::move(job));
    cv_.notify_one();
    return true;
  }
  // Runs what was queued, then joins the threads.
  void shutdown() {
    {
      std::lock_guard lock(m_);
      if (stopping_ && threads_.empty()) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

 private:
  void loop() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
      std::lock_guard lock(m_);
      --pending_;
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::size_t pending_ = 0;  // queued + running
  std::size_t capacity_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

bool has_crlf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

std::string serialize_head(int status, std::string_view content_type, const std::vector<Header>& headers,
                           std::optional<std::size_t> content_length, bool close, bool http10,
                           unsigned retry_after) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
  if (!content_type.empty() && !has_crlf(content_type)) out += "Content-Type: " + std::string(content_type) + "\r\n";
  if (content_length) out += "Content-Length: " + std::to_string(*content_length) + "\r\n";
  else out += "Transfer-Encoding: chunked\r\n";
  for (const auto& h : headers)
    if (!h.name.empty() && !has_crlf(h.name) && !has_crlf(h.value)) out += h.name + ": " + h.value + "\r\n";
  if (status == 503) out += "Retry-After: " + std::to_string(retry_after) + "\r\n";
  out += "X-Content-Type-Options: nosniff\r\n";
  if (close) out += "Connection: close\r\n";
  else if (http10) out += "Connection: keep-alive\r\n";
  out += "\r\n";
  return out;
}

bool contains_control(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

// --- What a connection decides, shared by the connection and parse_connection()

using HeadParser = bhttp::request_parser<bhttp::empty_body>;

// A parser for the next request head, with the header cap.
void arm_head_parser(HeadParser& head, const Limits& L) {
  head.header_limit(static_cast<std::uint32_t>(L.max_header_bytes));
  // Checked after routing (the limit depends on the route). Not boost::none:
  // Beast 1.74 compares "len > body_limit" with an optional, and none is below every length.
  head.body_limit(std::numeric_limits<std::uint64_t>::max());
}

bool closes_quietly(beast::error_code ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == net::error::operation_aborted ||
         ec == net::error::connection_reset || ec == bhttp::error::partial_message;
}

// The answer to an error reading a request head (not a timeout), or nullopt
// when the connection just closes (the client went away mid-request).
std::optional<Response> head_error_answer(beast::error_code ec, const Limits& L) {
  if (closes_quietly(ec)) return std::nullopt;
  if (ec == bhttp::error::body_limit) return error_response(413, "body_too_large", "the request body is too large");
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow)
    return error_response(431, "headers_too_large",
                          "the request line and headers exceed " + std::to_string(L.max_header_bytes) + " bytes");
  return error_response(400, "bad_request", "malformed request: " + ec.message());
}

// The same for an error reading an ordinary route's body.
std::optional<Response> body_error_answer(beast::error_code ec, const Limits& L) {
  if (closes_quietly(ec)) return std::nullopt;
  if (ec == bhttp::error::body_limit)
    return error_response(413, "body_too_large", "the request body exceeds " + std::to_string(L.max_body_bytes) + " bytes");
  return error_response(400, "bad_request", "malformed request body: " + ec.message());
}

// What to do with a request whose head was read: refuse it (an answer, then
// the connection closes) or read its body for `route`.
struct Admission {
  std::optional<Response> refusal;
  const Router::Route* route = nullptr;
  std::size_t body_limit = 0;
  bool keep_alive = false;
  bool http10 = false;
  bool expect_continue = false;
};

// The checks of a request head, in order: header count, UTF-8 of the request
// line, the target, percent-escapes of path and query, the token (before
// routing and before the body), routing (404/405), transfer coding and the
// declared length. Fills `req` (method, target, path, query, headers, params).
Admission admit_head(const HeadParser& head, const ServerOptions& opt, const Router& router, bool stopping,
                     Request& req) {
  const Limits& L = opt.limits;
  Admission a;
  const auto& msg = head.get();
  std::size_t fields = static_cast<std::size_t>(std::distance(msg.begin(), msg.end()));
  if (fields > L.max_header_count) {
    a.refusal = error_response(431, "too_many_headers",
                               "the request has " + std::to_string(fields) + " header fields; at most " +
                                   std::to_string(L.max_header_count) + " are accepted");
    return a;
  }
  req = Request{};
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  a.http10 = msg.version() < 11;
  a.keep_alive = msg.keep_alive() && !stopping;
  for (const auto& f : msg) req.headers.push_back({std::string(f.name_string()), std::string(f.value())});
  auto refuse = [&](Response r) {
    a.refusal = std::move(r);
    return a;
  };

  if (!valid_utf8(req.target) || !valid_utf8(req.method))
    return refuse(error_response(400, "invalid_utf8", "the request line is not valid UTF-8"));
  if (req.target.empty() || req.target[0] != '/')
    return refuse(error_response(400, "bad_request", "the request target must be a path starting with '/'"));
  std::size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  std::vector<std::string> segments;
  for (std::size_t i = 1; i <= req.path.size();) {
    std::size_t j = req.path.find('/', i);
    if (j == std::string::npos) j = req.path.size();
    auto decoded = percent_decode(std::string_view(req.path).substr(i, j - i));
    if (!decoded) return refuse(error_response(400, "bad_request", "the path has a malformed percent-escape"));
    if (!valid_utf8(*decoded)) return refuse(error_response(400, "invalid_utf8", "the path is not valid UTF-8"));
    if (contains_control(*decoded)) return refuse(error_response(400, "bad_request", "the path has a control character"));
    segments.push_back(std::move(*decoded));
    i = j + 1;
  }
  if (req.path == "/") segments.clear();
  if (auto query = percent_decode(req.query); !query)
    return refuse(error_response(400, "bad_request", "the query has a malformed percent-escape"));
  else if (!valid_utf8(*query))
    return refuse(error_response(400, "invalid_utf8", "the query is not valid UTF-8"));

  // Authentication comes before routing and before the body is read.
  if (!opt.token.empty()) {
    std::string_view auth = req.header("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    bool ok = auth.size() > kBearer.size() && auth.substr(0, kBearer.size()) == kBearer &&
              constant_time_equal(auth.substr(kBearer.size()), opt.token);
    if (!ok) {
      auto r = error_response(401, "unauthorized", "missing or wrong bearer token (Authorization: Bearer <token>)");
      r.headers.push_back({"WWW-Authenticate", "Bearer"});
      return refuse(std::move(r));
    }
  }

  std::vector<std::string> allowed;
  a.route = router.match(req.method, segments, req.params, allowed);
  if (!a.route) {
    if (allowed.empty()) return refuse(error_response(404, "not_found", "no such endpoint: " + req.path));
    std::string list;
    for (const auto& m : allowed) list += (list.empty() ? "" : ", ") + m;
    auto r = error_response(405, "method_not_allowed", req.method + " is not allowed here; allowed: " + list);
    r.headers.push_back({"Allow", list});
    return refuse(std::move(r));
  }
  if (msg.count(bhttp::field::transfer_encoding) && !head.chunked())
    return refuse(error_response(501, "not_implemented", "only the chunked transfer coding is supported"));
  bool stream = static_cast<bool>(a.route->stream_handler);
  a.body_limit = stream ? L.max_stream_body_bytes : L.max_body_bytes;
  if (auto cl = head.content_length(); cl && *cl > a.body_limit)
    return refuse(error_response(413, "body_too_large",
                                 "the request body has " + std::to_string(*cl) + " bytes; at most " +
                                     std::to_string(a.body_limit) + " are accepted here"));
  a.expect_continue = !a.http10 && beast::iequals(msg[bhttp::field::expect], "100-continue");
  return a;
}

}  // namespace

class Connection;

struct Server::Impl {
  ServerOptions opt;
  Router router;

  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> n_connections{0}, n_open{0}, n_requests{0}, n_overload{0}, n_timeouts{0};
  std::atomic<std::size_t> active{0};  // requests in a handler, streams running

  std::mutex conns_m;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> conns;

  Pool workers;
  Pool streams;

  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard;
  tcp::acceptor acceptor{ioc};
  net::steady_timer accept_retry{ioc};
  net::steady_timer stop_timer{ioc};
  std::optional<net::signal_set> signals;
  Clock::time_point grace_deadline;
  bool forced = false;
  std::uint16_t bound_port = 0;

  Impl(ServerOptions o, Router r)
      : opt(std::move(o)),
        router(std::move(r)),
        workers(std::max(1u, opt.limits.workers), opt.limits.queue_limit),
        streams(static_cast<unsigned>(std::max<std::size_t>(1, opt.limits.max_streams)), 0) {}

  void accept();
  void begin_stop();
  void stop_tick();
  std::vector<std::shared_ptr<Connection>> connections() {
    std::vector<std::shared_ptr<Connection>> out;
    std::lock_guard lock(conns_m);
    for (auto& [p, w] : conns)
      if (auto c = w.lock()) out.push_back(std::move(c));
    return out;
  }
};

class StreamImpl;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server::Impl& srv, tcp::socket socket)
      : srv_(srv), stream_(std::move(socket)), buffer_(srv.opt.limits.max_header_bytes + 8192) {
    ++srv_.n_open;
    ++srv_.n_connections;
  }
  ~Connection() {
    {
      std::lock_guard lock(srv_.conns_m);
      srv_.conns.erase(this);
    }
    --srv_.n_open;
  }

  void start(bool reject) {
    {
      std::lock_guard lock(srv_.conns_m);
      srv_.conns[this] = weak_from_this();
    }
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    if (reject) {
      ++srv_.n_overload;
      return fail(error_response(503, "overloaded", "too many open connections; try again later"));
    }
    deadline_ = Clock::now() + limits().request_timeout;
    read_header();
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

  // On the strand, when the server begins to stop.
  void on_server_stop() {
    if (state_ == State::kIdle || state_ == State::kReading) close_now();
  }
  void force_close() { close_now(); }

  // --- Bridges for StreamImpl (on the strand) --------------------------------
  using ReadDone = std::function<void(beast::error_code, std::size_t, bool)>;
  void stream_read(char* buf, std::size_t n, ReadDone done) {
    if (expect_continue_) {
      expect_continue_ = false;
      out_ = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_after(limits().stream_idle_timeout);
      net::async_write(stream_, net::buffer(out_),
                       [self = shared_from_this(), buf, n, done](beast::error_code ec, std::size_t) {
                         if (ec) return done(ec, 0, false);
                         self->stream_read(buf, n, done);
                       });
      return;
    }
    if (sbody_->is_done()) return done({}, 0, true);
    auto& body = sbody_->get().body();
    body.data = buf;
    body.size = n;
    body.more = true;
    stream_.expires_after(limits().stream_idle_timeout);
    bhttp::async_read_some(stream_, buffer_, *sbody_,
                           [self = shared_from_this(), n, done](beast::error_code ec, std::size_t) {
                             if (ec == bhttp::error::need_buffer) ec = {};
                             if (ec == beast::error::timeout) ++self->srv_.n_timeouts;
                             std::size_t got = n - self->sbody_->get().body().size;
                             done(ec, got, self->sbody_->is_done());
                           });
  }
  // Writes `data`; `head` marks a response head: a "100 Continue" still owed
  // goes first when the body is yet to be read (a response that starts
  // before the body), and is dropped when the answer is final (`final_answer`).
  void stream_write(std::shared_ptr<std::string> data, std::function<void(beast::error_code)> done, bool head = false,
                    bool final_answer = false) {
    if (head && expect_continue_) {
      expect_continue_ = false;
      if (!final_answer && !sbody_->is_done()) data->insert(0, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    stream_.expires_after(limits().stream_idle_timeout);
    net::async_write(stream_, net::buffer(*data), [self = shared_from_this(), data, done](beast::error_code ec, std::size_t) {
      if (ec == beast::error::timeout) ++self->srv_.n_timeouts;
      done(ec);
    });
  }
  bool stream_body_done() const { return sbody_ && sbody_->is_done(); }
  bool keep_alive() const { return keep_alive_ && !srv_.stopping; }
  bool http10() const { return http10_; }
  // After the stream handler returned.
  void stream_finished(bool reusable) {
    --srv_.active;
    sbody_.reset();
    if (state_ == State::kClosed) return;
    if (reusable && keep_alive()) return wait_next();
    linger_close();
  }

 private:
  enum class State { kReading, kIdle, kHandling, kWriting, kStreaming, kClosing, kClosed };
  const Limits& limits() const { return srv_.opt.limits; }

  void wait_next() {
    if (srv_.stopping) return close_now();
    state_ = State::kIdle;
    if (buffer_.size() > 0) return begin_request();  // pipelined
    buffer_.shrink_to_fit();
    stream_.expires_after(limits().keep_alive_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) {
        if (ec == beast::error::timeout) ++self->srv_.n_timeouts;
        return self->close_now();
      }
      self->buffer_.commit(n);
      self->begin_request();
    });
  }

  void begin_request() {
    deadline_ = Clock::now() + limits().request_timeout;
    read_header();
  }

  void read_header() {
    state_ = State::kReading;
    head_.emplace();
    arm_head_parser(*head_, limits());
    stream_.expires_at(deadline_);
    bhttp::async_read_header(stream_, buffer_, *head_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_header(ec);
    });
  }

  void on_header(beast::error_code ec) {
    if (ec) {
      if (ec == beast::error::timeout) {
        ++srv_.n_timeouts;
        return close_now();
      }
      auto answer = head_error_answer(ec, limits());
      if (!answer) return close_now();
      return fail(std::move(*answer));
    }
    Admission a = admit_head(*head_, srv_.opt, srv_.router, srv_.stopping, req_);
    http10_ = a.http10;
    keep_alive_ = a.keep_alive;
    if (a.refusal) return fail(std::move(*a.refusal));
    route_ = a.route;
    expect_continue_ = a.expect_continue;
    if (route_->stream_handler) return start_stream();
    read_body(a.body_limit);
  }

  void read_body(std::size_t limit) {
    body_.emplace(std::move(*head_));
    head_.reset();
    body_->body_limit(limit);
    if (expect_continue_ && !body_->is_done()) {
      expect_continue_ = false;
      out_ = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_at(deadline_);
      net::async_write(stream_, net::buffer(out_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec) {
          if (ec == beast::error::timeout) ++self->srv_.n_timeouts;
          return self->close_now();
        }
        self->read_body_rest();
      });
      return;
    }
    read_body_rest();
  }

  void read_body_rest() {
    stream_.expires_at(deadline_);
    bhttp::async_read(stream_, buffer_, *body_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_body(ec);
    });
  }

  void on_body(beast::error_code ec) {
    if (ec) {
      if (ec == beast::error::timeout) {
        ++srv_.n_timeouts;
        return close_now();
      }
      auto answer = body_error_answer(ec, limits());
      if (!answer) return close_now();
      return fail(std::move(*answer));
    }
    req_.body = std::move(body_->get().body());
    body_.reset();
    if (!valid_utf8(req_.body)) return send(error_response(400, "invalid_utf8", "the request body is not valid UTF-8"), false);
    state_ = State::kHandling;
    ++srv_.active;
    const Router::Route* route = route_;
    bool queued = srv_.workers.try_submit([self = shared_from_this(), route] {
      Response r;
      try {
        r = route->handler(self->req_);
      } catch (...) {
        r = error_response(500, "internal", "the request could not be handled");
      }
      net::post(self->executor(), [self, r = std::move(r)]() mutable {
        --self->srv_.active;
        self->send(r, false);
      });
    });
    if (!queued) {
      --srv_.active;
      ++srv_.n_overload;
      return send(error_response(503, "overloaded", "the server is busy; try again later"), true);
    }
    ++srv_.n_requests;
  }

  void start_stream();

  void send(const Response& r, bool close) {
    if (state_ == State::kClosed) return;
    state_ = State::kWriting;
    bool c = close || !keep_alive();
    out_ = serialize_head(r.status, r.content_type, r.headers, r.body.size(), c, http10_, limits().retry_after_seconds);
    out_ += r.body;
    stream_.expires_after(limits().write_timeout);
    net::async_write(stream_, net::buffer(out_), [self = shared_from_this(), c](beast::error_code ec, std::size_t) {
      if (ec) {
        if (ec == beast::error::timeout) ++self->srv_.n_timeouts;
        return self->close_now();
      }
      self->out_.clear();
      self->out_.shrink_to_fit();
      if (c) return self->linger_close();
      self->wait_next();
    });
  }

  // Answers and closes (the request was not read to its end).
  void fail(Response r) {
    keep_alive_ = false;
    head_.reset();
    body_.reset();
    send(r, true);
  }

  void linger_close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosing;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    buffer_.clear();
    drained_ = 0;
    stream_.expires_after(std::chrono::milliseconds(1000));
    drain();
  }
  void drain() {
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > (1u << 20)) return self->close_now();
      self->drain();
    });
  }

  void close_now() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  Server::Impl& srv_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::empty_body>> head_;
  std::optional<bhttp::request_parser<bhttp::string_body>> body_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> sbody_;
  Request req_;
  const Router::Route* route_ = nullptr;
  Clock::time_point deadline_;
  bool keep_alive_ = true;
  bool http10_ = false;
  bool expect_continue_ = false;
  State state_ = State::kReading;
  std::string out_;
  std::size_t drained_ = 0;

  friend class StreamImpl;
};

// The handler thread's side of a streaming request: each call posts the step
// to the connection's strand and waits for it.
class StreamImpl final : public Stream {
 public:
  StreamImpl(std::shared_ptr<Connection> c, Server::Impl& srv) : c_(std::move(c)), srv_(srv) {}

  long read_body(char* buf, std::size_t n) override {
    if (error_ != StreamError::kNone) return -1;
    if (body_done_ || n == 0) return 0;
    while (true) {
      struct R {
        beast::error_code ec;
        std::size_t got = 0;
        bool done = false;
      };
      auto p = std::make_shared<std::promise<R>>();
      auto f = p->get_future();
      net::post(c_->executor(), [c = c_, buf, n, p] {
        c->stream_read(buf, n, [p](beast::error_code ec, std::size_t got, bool done) { p->set_value({ec, got, done}); });
      });
      if (!wait(f)) return fail(StreamError::kClosed);
      R r = f.get();
      body_done_ = r.done;
      if (r.ec) {
        if (r.ec == bhttp::error::body_limit) return fail(StreamError::kTooLarge);
        if (r.ec == beast::error::timeout) return fail(StreamError::kTimeout);
        if (r.ec == bhttp::error::end_of_stream || r.ec == net::error::eof || r.ec == bhttp::error::partial_message ||
            r.ec == net::error::connection_reset || r.ec == net::error::operation_aborted)
          return fail(StreamError::kClosed);
        return fail(StreamError::kBadBody);
      }
      if (r.got > 0 || r.done) return static_cast<long>(r.got);
    }
  }
  StreamError error() const override { return error_; }

  bool respond(const Response& r) override {
    if (started_) return false;
    started_ = finished_ = true;
    bool close = !reusable_now();
    auto data = std::make_shared<std::string>(serialize_head(r.status, r.content_type, r.headers, r.body.size(), close,
                                                             c_->http10(), srv_.opt.limits.retry_after_seconds));
    *data += r.body;
    close_after_ = close;
    return write_raw(std::move(data), /*head=*/true, /*final_answer=*/true);
  }
  bool begin(int status, std::string_view content_type, const std::vector<Header>& headers) override {
    if (started_) return false;
    started_ = true;
    close_after_ = !reusable_now();
    return write_raw(std::make_shared<std::string>(serialize_head(status, content_type, headers, std::nullopt,
                                                                  close_after_, c_->http10(),
                                                                  srv_.opt.limits.retry_after_seconds)),
                     /*head=*/true);
  }
  bool write(std::string_view data) override {
    if (!started_ || finished_) return false;
    if (data.empty()) return true;
    char size[32];
    int k = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    auto chunk = std::make_shared<std::string>(size, static_cast<std::size_t>(k));
    chunk->append(data);
    chunk->append("\r\n");
    return write_raw(std::move(chunk));
  }
  bool finish() override {
    if (!started_ || finished_) return false;
    finished_ = true;
    return write_raw(std::make_shared<std::string>("0\r\n\r\n"));
  }

  // Whether the connection can serve another request after this one.
  bool reusable() const { return started_ && finished_ && !close_after_ && ok_ && body_done_; }
  bool answered() const { return started_; }

 private:
  bool reusable_now() const { return body_done_ && error_ == StreamError::kNone && c_->keep_alive(); }
  long fail(StreamError e) {
    error_ = e;
    return -1;
  }
  template <class T>
  bool wait(std::future<T>& f) {
    while (f.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready)
      if (srv_.ioc.stopped()) return false;
    return true;
  }
  bool write_raw(std::shared_ptr<std::string> data, bool head = false, bool final_answer = false) {
    if (!ok_) return false;
    auto p = std::make_shared<std::promise<beast::error_code>>();
    auto f = p->get_future();
    net::post(c_->executor(), [c = c_, data = std::move(data), p, head, final_answer]() mutable {
      c->stream_write(std::move(data), [p](beast::error_code ec) { p->set_value(ec); }, head, final_answer);
    });
    if (!wait(f) || f.get()) ok_ = false;
    return ok_;
  }

  std::shared_ptr<Connection> c_;
  Server::Impl& srv_;
  StreamError error_ = StreamError::kNone;
  bool body_done_ = false, started_ = false, finished_ = false, close_after_ = false, ok_ = true;
};

void Connection::start_stream() {
  sbody_.emplace(std::move(*head_));
  head_.reset();
  sbody_->body_limit(limits().max_stream_body_bytes);
  state_ = State::kStreaming;
  ++srv_.active;
  const Router::Route* route = route_;
  bool started = srv_.streams.try_submit([self = shared_from_this(), route] {
    StreamImpl s(self, self->srv_);
    try {
      route->stream_handler(self->req_, s);
    } catch (...) {  // answered 500 below when nothing was sent yet
    }
    if (!s.answered()) s.respond(error_response(500, "internal", "the request could not be handled"));
    bool reusable = s.reusable();
    net::post(self->executor(), [self, reusable] { self->stream_finished(reusable); });
  });
  if (!started) {
    --srv_.active;
    ++srv_.n_overload;
    sbody_.reset();
    return fail(error_response(503, "overloaded", "too many streaming requests at once; try again later"));
  }
  ++srv_.n_requests;
}

void Server::Impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping) return;
    if (ec) {
      if (ec == net::error::operation_aborted) return;
      // Out of descriptors or similar: try again shortly rather than spin.
      accept_retry.expires_after(std::chrono::milliseconds(50));
      accept_retry.async_wait([this](beast::error_code e) {
        if (!e && !stopping) accept();
      });
      return;
    }
    bool reject = n_open.load() >= opt.limits.max_connections;
    auto c = std::make_shared<Connection>(*this, std::move(socket));
    net::dispatch(c->executor(), [c, reject] { c->start(reject); });
    accept();
  });
}

void Server::Impl::begin_stop() {
  beast::error_code ec;
  acceptor.close(ec);
  accept_retry.cancel();
  if (signals) signals->cancel();
  for (auto& c : connections()) net::post(c->executor(), [c] { c->on_server_stop(); });
  grace_deadline = Clock::now() + opt.limits.shutdown_grace;
  stop_tick();
}

void Server::Impl::stop_tick() {
  if (active.load() == 0 && n_open.load() == 0) {
    guard.reset();
    ioc.stop();
    return;
  }
  auto now = Clock::now();
  if (now >= grace_deadline && !forced) {
    forced = true;
    for (auto& c : connections()) net::post(c->executor(), [c] { c->force_close(); });
  }
  if (now >= grace_deadline + std::chrono::seconds(2)) {
    guard.reset();
    ioc.stop();
    return;
  }
  stop_timer.expires_after(std::chrono::milliseconds(20));
  stop_timer.async_wait([this](beast::error_code ec) {
    if (ec != net::error::operation_aborted) stop_tick();
  });
}

// The connection's parsing, checks and routing over bytes already received:
// the same parsers, limits and decisions (arm_head_parser, head_error_answer,
// admit_head, body_error_answer), fed synchronously instead of from a socket.
ParsedConnection parse_connection(std::string_view bytes, const ServerOptions& options, const Router& router) {
  const Limits& L = options.limits;
  ParsedConnection out;
  std::size_t pos = 0;
  // Feeds the rest of `bytes` to `parser` until `done`; at the end of the
  // bytes the client is taken to have closed (put_eof). Returns the error.
  auto feed = [&](auto& parser, auto done) -> beast::error_code {
    beast::error_code ec;
    auto closed = [&] {
      parser.put_eof(ec);
      if (!ec && !done()) ec = bhttp::error::partial_message;
      return ec;
    };
    while (!done()) {
      if (pos == bytes.size()) return closed();
      std::size_t n = parser.put(net::buffer(bytes.data() + pos, bytes.size() - pos), ec);
      pos += n;
      if (ec == bhttp::error::need_more) {
        ec = {};
        // Beast wants a whole head in one buffer, and all that is left was given.
        if (n == 0) return closed();
        continue;
      }
      if (ec) return ec;
    }
    return ec;
  };
  while (pos < bytes.size()) {
    ParsedExchange exchange;
    HeadParser head;
    arm_head_parser(head, L);
    if (auto ec = feed(head, [&] { return head.is_header_done(); })) {
      if (auto answer = head_error_answer(ec, L)) {
        exchange.answer = std::move(*answer);
        out.exchanges.push_back(std::move(exchange));
      }
      out.closed = true;
      return out;
    }
    Request req;
    Admission a = admit_head(head, options, router, false, req);
    if (a.refusal) {
      exchange.answer = std::move(*a.refusal);
      out.exchanges.push_back(std::move(exchange));
      out.closed = true;
      return out;
    }
    bhttp::request_parser<bhttp::string_body> body(std::move(head));
    body.body_limit(a.body_limit);
    body.eager(true);
    if (auto ec = feed(body, [&] { return body.is_done(); })) {
      // Streaming routes see a failed read (the handler answers); ordinary ones the layer's answer.
      if (auto answer = a.route->stream_handler ? std::nullopt : body_error_answer(ec, L)) {
        exchange.answer = std::move(*answer);
        out.exchanges.push_back(std::move(exchange));
      }
      out.closed = true;
      return out;
    }
    req.body = std::move(body.get().body());
    if (!a.route->stream_handler && !valid_utf8(req.body)) {
      // Answered, and the connection goes on (as Connection::on_body does).
      exchange.answer = error_response(400, "invalid_utf8", "the request body is not valid UTF-8");
    } else {
      exchange.request = std::move(req);
      exchange.streaming = static_cast<bool>(a.route->stream_handler);
    }
    out.exchanges.push_back(std::move(exchange));
    if (!a.keep_alive) {
      out.closed = true;
      return out;
    }
  }
  return out;
}

Server::Server(ServerOptions options, Router router) : impl_(std::make_unique<Impl>(std::move(options), std::move(router))) {}

Server::~Server() {
  impl_->workers.shutdown();
  impl_->streams.shutdown();
}

std::string Server::listen() {
  auto& I = *impl_;
  std::string host = I.opt.host == "localhost" ? "127.0.0.1" : I.opt.host;
  beast::error_code ec;
  auto addr = net::ip::make_address(host, ec);
  if (ec) return "'" + I.opt.host + "' is not an IP address (nor localhost)";
  tcp::endpoint ep(addr, I.opt.port);
  I.acceptor.open(ep.protocol(), ec);
  if (!ec) I.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) I.acceptor.bind(ep, ec);
  if (!ec) I.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return "cannot listen on " + I.opt.host + ":" + std::to_string(I.opt.port) + ": " + ec.message();
  I.bound_port = I.acceptor.local_endpoint().port();
  return "";
}

std::uint16_t Server::port() const { return impl_->bound_port; }

void Server::run() {
  auto& I = *impl_;
  I.guard.emplace(net::make_work_guard(I.ioc));
  if (I.opt.stop_on_signals) {
    I.signals.emplace(I.ioc, SIGINT, SIGTERM);
    I.signals->async_wait([this](beast::error_code ec, int) {
      if (!ec) stop();
    });
  }
  if (!I.stopping) I.accept();  // else stop() already posted begin_stop
  std::vector<std::thread> extra;
  for (unsigned i = 1; i < std::max(1u, I.opt.limits.io_threads); ++i) extra.emplace_back([&I] { I.ioc.run(); });
  I.ioc.run();
  for (auto& t : extra) t.join();
  I.workers.shutdown();
  I.streams.shutdown();
}

void Server::stop() {
  if (impl_->stopping.exchange(true)) return;
  net::post(impl_->ioc, [this] { impl_->begin_stop(); });
}

ServerStats Server::stats() const {
  auto& I = *impl_;
  return {I.n_connections.load(), I.n_open.load(), I.n_requests.load(), I.n_overload.load(), I.n_timeouts.load()};
}

}  // namespace rt_http
