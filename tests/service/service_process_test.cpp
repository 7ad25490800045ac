// The retarget_service binary under hostile clients: it is started on a
// loopback port (an in-memory engine) and attacked with raw sockets. The
// binary is RETARGET_SERVICE_BIN when set (to compare with another build),
// else the one built here. The tests pass only flags the service has always
// had, except where a test is about a new flag.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "raw_http.hpp"

namespace {

using namespace std::chrono_literals;
using raw::Clock;

std::string service_bin() {
  const char* env = std::getenv("RETARGET_SERVICE_BIN");
  return env && *env ? env : RETARGET_SERVICE;
}

class Service {
 public:
  explicit Service(std::vector<std::string> args) {
    args.insert(args.begin(), {service_bin(), "--data-dir", ":memory:", "--plugins", RETARGET_PLUGIN_DIR, "--port", "0"});
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    // "listening on 127.0.0.1:PORT" within 30 s.
    std::string text;
    auto end = Clock::now() + 30s;
    while (Clock::now() < end && text.find('\n') == std::string::npos) {
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
    out_fd_ = out[0];
    auto colon = text.rfind(':');
    if (text.rfind("listening on", 0) == 0 && colon != std::string::npos) port_ = static_cast<std::uint16_t>(std::atoi(text.c_str() + colon + 1));
  }
  ~Service() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
  }
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Resident memory of the service, in KiB.
  long rss_kib() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
  }
  // SIGTERM, then the exit status within `timeout` (-1 if it did not exit).
  int terminate(std::chrono::milliseconds timeout) {
    ::kill(pid_, SIGTERM);
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::uint16_t port_ = 0;
};

const char* kLifecycle = "GET /lifecycle HTTP/1.1\r\nHost: t\r\n\r\n";

bool has_error_shape(const raw::Response& r, const std::string& code) {
  return r.body.find("\"error\": {") != std::string::npos && r.body.find("\"code\": \"" + code + "\"") != std::string::npos &&
         r.body.find("\"message\": ") != std::string::npos;
}

std::string token_file() {
  std::string path = ::testing::TempDir() + "service_process_token";
  std::ofstream(path) << "s3cret\n";
  return path;
}

// Eight (and more) connections trickling headers every second must not block
// an ordinary request, and are cut at the whole-request deadline (10 s by default).
TEST(ServiceProcess, SlowLorisDoesNotBlockOthersAndIsCut) {
  Service svc({});
  ASSERT_NE(svc.port(), 0);
  std::vector<raw::Conn> slow;
  for (int i = 0; i < 12; ++i) {
    slow.emplace_back(svc.port());
    ASSERT_TRUE(slow.back().send("POST /segments/x/members HTTP/1.1\r\nHost: t\r\n"));
  }
  std::vector<bool> closed(slow.size(), false);
  auto start = Clock::now();
  for (int second = 0; second < 14; ++second) {
    for (std::size_t i = 0; i < slow.size(); ++i)
      if (!closed[i] && !slow[i].send("X-Trickle: " + std::to_string(second) + "\r\n")) closed[i] = true;
    if (second < 4) {
      raw::Conn c(svc.port());
      auto t0 = Clock::now();
      auto r = c.roundtrip(kLifecycle, 3000ms);
      EXPECT_EQ(r.status, 200) << "an ordinary request was blocked by slow clients";
      EXPECT_LT(Clock::now() - t0, 1000ms);
    }
    bool all = true;
    for (std::size_t i = 0; i < slow.size(); ++i) {
      if (!closed[i] && slow[i].read_some(1ms) == 0) closed[i] = true;
      all = all && closed[i];
    }
    if (all) break;
    std::this_thread::sleep_for(1000ms);
  }
  for (std::size_t i = 0; i < slow.size(); ++i) EXPECT_TRUE(closed[i] || slow[i].wait_closed(500ms)) << "slow connection " << i << " still open";
  EXPECT_LT(Clock::now() - start, 15s);
}

// Many small headers (the flood of the issue) or one large one: 431, and the
// memory is not kept.
TEST(ServiceProcess, HeaderFloodIsRefusedAndMemoryNotKept) {
  Service svc({});
  ASSERT_NE(svc.port(), 0);
  {
    raw::Conn c(svc.port());
    ASSERT_EQ(c.roundtrip(kLifecycle).status, 200);
  }
  long before = svc.rss_kib();
  ASSERT_GT(before, 0);
  for (int round = 0; round < 3; ++round) {
    raw::Conn c(svc.port());
    std::string flood = "GET /lifecycle HTTP/1.1\r\nHost: t\r\n";
    for (int i = 0; flood.size() < (std::size_t{8} << 20); ++i) flood += "X-" + std::to_string(i) + ": v\r\n";
    flood += "\r\n";
    c.send(flood);  // the server may close part way
    auto r = c.read_response(20000ms);
    if (r.status) {
      EXPECT_EQ(r.status, 431);
    }
    c.wait_closed(5000ms);
  }
  {
    raw::Conn c(svc.port());
    std::string req = "GET /lifecycle HTTP/1.1\r\nHost: t\r\n";
    for (int i = 0; i < 200; ++i) req += "X-" + std::to_string(i) + ": v\r\n";
    auto r = c.roundtrip(req + "\r\n");
    EXPECT_EQ(r.status, 431) << "200 header fields";
    EXPECT_TRUE(has_error_shape(r, "too_many_headers")) << r.body;
  }
  {
    raw::Conn c(svc.port());
    auto r = c.roundtrip("GET /lifecycle HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(64 * 1024, 'b') + "\r\n\r\n");
    EXPECT_EQ(r.status, 431) << "a 64 KiB header";
    EXPECT_TRUE(has_error_shape(r, "headers_too_large")) << r.body;
  }
  std::this_thread::sleep_for(200ms);
  long after = svc.rss_kib();
#if defined(__SANITIZE_ADDRESS__)
  const long kMaxGrowthKib = 96 * 1024;  // AddressSanitizer's quarantine keeps freed blocks a while
#else
  const long kMaxGrowthKib = 24 * 1024;
#endif
  // (The service of the issue grew by over 200 MiB here, and kept it.)
  EXPECT_LT(after - before, kMaxGrowthKib) << "RSS grew from " << before << " KiB to " << after << " KiB";
  raw::Conn c(svc.port());
  EXPECT_EQ(c.roundtrip(kLifecycle).status, 200);
}

TEST(ServiceProcess, ChunkedBodyIsBoundedByMaxBodyBytes) {
  Service svc({"--max-body-bytes", "4096"});
  ASSERT_NE(svc.port(), 0);
  raw::Conn c(svc.port());
  ASSERT_TRUE(c.send("POST /users/export/ids HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
  std::string filler(16 * 1024, ' ');
  filler.front() = '[';
  std::string piece = raw::chunk(filler);
  for (int i = 0; i < 64; ++i)  // 1 MiB in all, far past the limit
    if (!c.send(piece)) break;
  c.send("0\r\n\r\n");
  auto r = c.read_response(10000ms);
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(has_error_shape(r, "body_too_large")) << r.body;
  raw::Conn d(svc.port());
  r = d.roundtrip("POST /users/export/ids HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n");
  EXPECT_EQ(r.status, 413);
}

TEST(ServiceProcess, InvalidUtf8AndBodylessPost) {
  Service svc({});
  ASSERT_NE(svc.port(), 0);
  auto ask = [&](const std::string& req) {
    raw::Conn c(svc.port());
    return c.roundtrip(req);
  };
  auto r = ask("POST /segments/%FF%FE/members HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_TRUE(has_error_shape(r, "invalid_utf8")) << r.body;
  r = ask("POST /campaigns/%C3%28/restore HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(r.status, 400) << r.body;
  std::string bad = "{\"external_ids\": [\"\xff\xfe\"]}";
  r = ask("POST /users/export/ids HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(bad.size()) + "\r\n\r\n" + bad);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_TRUE(has_error_shape(r, "invalid_utf8")) << r.body;
  // A POST without a body is an empty request, not a 400.
  r = ask("POST /segments/nope/members HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_TRUE(has_error_shape(r, "not_found")) << r.body;
  r = ask("POST /campaigns/nope/restore HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(r.status, 404) << r.body;
}

TEST(ServiceProcess, TokenIsCheckedBeforeTheBodyAndNeverTakenFromTheUrl) {
  Service svc({"--token-file", token_file()});
  ASSERT_NE(svc.port(), 0);
  auto ask = [&](const std::string& req) {
    raw::Conn c(svc.port());
    return c.roundtrip(req);
  };
  auto r = ask("GET /lifecycle?token=s3cret HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(has_error_shape(r, "unauthorized")) << r.body;
  EXPECT_EQ(ask("GET /lifecycle?access_token=s3cret HTTP/1.1\r\nHost: t\r\n\r\n").status, 401);
  EXPECT_EQ(ask("GET /lifecycle HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cretx\r\n\r\n").status, 401);
  EXPECT_EQ(ask("GET /lifecycle HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\n\r\n").status, 200);
  // 100 MB announced without a token: refused before the body.
  auto start = Clock::now();
  r = ask("POST /users/export/ids HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n");
  EXPECT_EQ(r.status, 401);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(ServiceProcess, NonLoopbackWithoutTokenIsRefusedAtStart) {
  for (std::string host : {"0.0.0.0", "::"}) {
    Service svc({"--host", host});
    EXPECT_EQ(svc.port(), 0) << host << " was listened on without a token";
    EXPECT_EQ(svc.terminate(10s), 2) << host;
  }
}

TEST(ServiceProcess, StreamingIngestHasItsOwnCap) {
  Service svc({"--max-streams", "1", "--stream-idle-timeout-ms", "5000"});
  ASSERT_NE(svc.port(), 0);
  raw::Conn a(svc.port());
  ASSERT_TRUE(a.send("POST /events HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
  std::this_thread::sleep_for(300ms);
  raw::Conn b(svc.port());
  auto r = b.roundtrip("POST /events HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("retry-after"), "1");
  raw::Conn c(svc.port());
  EXPECT_EQ(c.roundtrip(kLifecycle).status, 200);  // ordinary routes are not held up
  r = a.roundtrip(raw::chunk("{\"type\": \"nonsense\"}\n") + "0\r\n\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"rejected\": 1"), std::string::npos) << r.body;
}

TEST(ServiceProcess, StopsGracefullyOnSigterm) {
  Service svc({});
  ASSERT_NE(svc.port(), 0);
  raw::Conn idle(svc.port());
  ASSERT_EQ(idle.roundtrip(kLifecycle).status, 200);
  EXPECT_EQ(svc.terminate(15s), 0);
}

}  // namespace
