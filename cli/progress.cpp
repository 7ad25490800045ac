// progress.hpp: the in-place progress line.
#include "progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace retarget::cli {

std::string with_thousands(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

bool Progress::enabled() {
  if (!::isatty(STDERR_FILENO)) return false;
  const char* term = std::getenv("TERM");
  return !(term && std::strcmp(term, "dumb") == 0);
}

Progress::Progress(std::string what, std::string unit, std::optional<std::uint64_t> total_bytes,
                   std::chrono::milliseconds show_after)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      total_bytes_(total_bytes),
      enabled_(enabled()),
      show_after_(show_after),
      start_(std::chrono::steady_clock::now()) {}

void Progress::update(std::uint64_t count, std::uint64_t bytes, const std::string& extra) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - start_ < show_after_) return;
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  double seconds = std::chrono::duration<double>(now - start_).count();
  std::string line = what_ + ": " + with_thousands(count) + " " + unit_;
  if (seconds > 0) line += ", " + with_thousands(static_cast<std::uint64_t>(count / seconds)) + " " + unit_ + "/s";
  if (!extra.empty()) line += ", " + extra;
  if (total_bytes_ && *total_bytes_ > 0) {
    double done = std::min(1.0, static_cast<double>(bytes) / static_cast<double>(*total_bytes_));
    line += ", " + std::to_string(static_cast<int>(done * 100)) + "%";
    if (done > 0 && seconds > 0) {
      auto left = static_cast<std::uint64_t>(seconds * (1 - done) / done);
      char eta[32];
      std::snprintf(eta, sizeof eta, " ETA %llu:%02llu", static_cast<unsigned long long>(left / 60),
                    static_cast<unsigned long long>(left % 60));
      line += eta;
    }
  }
  // Carriage return, the line, clear to its end: redrawn in place.
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::finish() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace retarget::cli
