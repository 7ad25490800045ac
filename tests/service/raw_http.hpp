// A raw-socket HTTP/1.1 client for the service tests: it sends exactly the
// bytes a test writes (slow, malformed or hostile) and reads responses with a
// time limit, so that no test can hang. Loopback only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace raw {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Response {
  int status = 0;  // 0: no (complete) response
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool interim_100 = false;  // a "100 Continue" came first
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class Conn {
 public:
  explicit Conn(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    int one = 1;
    if (fd_ >= 0) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Conn() { close(); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  Conn(Conn&& o) noexcept : fd_(o.fd_), in_(std::move(o.in_)) { o.fd_ = -1; }

  bool ok() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Sends everything (false when the peer closed or reset).
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads whatever arrives within `timeout`: 1 = some bytes, 0 = EOF or reset, -1 = timeout.
  int read_some(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return -1;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return 0;
    in_.append(buf, static_cast<std::size_t>(n));
    return 1;
  }
  // True when the server closes (EOF or reset) within `timeout`; data is discarded.
  bool wait_closed(std::chrono::milliseconds timeout) {
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      int r = read_some(std::max(left, std::chrono::milliseconds(1)));
      if (r == 0) return true;
      in_.clear();
    }
    return false;
  }
  // One response (Content-Length or chunked body), or status 0 when none completes in `timeout`.
  Response read_response(std::chrono::milliseconds timeout = 5000ms) {
    auto end = Clock::now() + timeout;
    Response r;
    while (true) {
      if (parse(r)) return r;
      auto now = Clock::now();
      if (now >= end) return Response{};
      int got = read_some(std::chrono::duration_cast<std::chrono::milliseconds>(end - now));
      if (got == 0) {
        if (parse(r)) return r;
        return Response{};
      }
      if (got < 0) return Response{};
    }
  }
  // The request, then its response.
  Response roundtrip(std::string_view request, std::chrono::milliseconds timeout = 5000ms) {
    if (!send(request)) return Response{};
    return read_response(timeout);
  }
  std::string& pending() { return in_; }

 private:
  // Parses one complete response off the front of in_.
  bool parse(Response& r) {
    r = Response{};
    std::size_t pos = 0;
    while (true) {
      auto end = in_.find("\r\n\r\n", pos);
      if (end == std::string::npos) return false;
      std::string head = in_.substr(pos, end - pos);
      std::size_t body_start = end + 4;
      if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) return false;
      int status = std::atoi(head.c_str() + 9);
      if (status == 100) {
        r.interim_100 = true;
        pos = body_start;
        continue;
      }
      r.status = status;
      std::size_t line = head.find("\r\n");
      while (line != std::string::npos) {
        std::size_t next = head.find("\r\n", line + 2);
        std::string h = head.substr(line + 2, next == std::string::npos ? std::string::npos : next - line - 2);
        auto colon = h.find(':');
        if (colon != std::string::npos) {
          std::string name = h.substr(0, colon);
          for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          std::size_t v = colon + 1;
          while (v < h.size() && h[v] == ' ') ++v;
          r.headers[name] = h.substr(v);
        }
        line = next;
      }
      if (r.headers.count("content-length")) {
        std::size_t n = std::stoul(r.headers["content-length"]);
        if (in_.size() < body_start + n) return false;
        r.body = in_.substr(body_start, n);
        in_.erase(0, body_start + n);
        return true;
      }
      if (r.header("transfer-encoding") == "chunked") {
        std::size_t p = body_start;
        std::string body;
        while (true) {
          auto e = in_.find("\r\n", p);
          if (e == std::string::npos) return false;
          std::size_t n = std::stoul(in_.substr(p, e - p), nullptr, 16);
          if (in_.size() < e + 2 + n + 2) return false;
          body += in_.substr(e + 2, n);
          p = e + 2 + n + 2;
          if (n == 0) break;
        }
        r.body = body;
        in_.erase(0, p);
        return true;
      }
      r.body.clear();
      in_.erase(0, body_start);
      return true;
    }
  }

  int fd_ = -1;
  std::string in_;
};

inline std::string chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return std::string(size) + std::string(data) + "\r\n";
}

}  // namespace raw
