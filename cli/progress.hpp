// A one-line progress display for long commands (ingest, restore --wait,
// the moves after a sweep, store check / rebuild / repair, export recipients): the count, the
// rate, and the percentage and time left when the total is known, redrawn in
// place on standard error at most ten times a second. When standard error is
// not a terminal it prints nothing at all, so logs and pipes see only the
// final summary.
//
//   Progress progress("events.jsonl", "lines", file_size);
//   progress.update(lines, bytes_read, "12 rejected");   // after each batch
//   progress.finish();                                   // clears the line
//
// Thread safety: one thread (the command's).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace retarget::cli {

class Progress {
 public:
  // `total_bytes`: the size of the input when known (a file), for the
  // percentage and the time left; nullopt for standard input. Nothing is
  // drawn before `show_after` has passed: work that ends sooner (a restore is
  // usually milliseconds) leaves the terminal alone, and the engine's own
  // messages on standard error never land in the middle of a line.
  Progress(std::string what, std::string unit, std::optional<std::uint64_t> total_bytes,
           std::chrono::milliseconds show_after = std::chrono::milliseconds(0));
  ~Progress() { finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `count` of `unit` done so far, `bytes` of the input consumed; `extra` is
  // appended (e.g. "12 rejected"). Draws at most every 100 ms, the first time
  // at the first call once `show_after` has passed.
  void update(std::uint64_t count, std::uint64_t bytes, const std::string& extra);
  // The total becomes known after the start (the files to check are listed first).
  void set_total(std::uint64_t total_bytes) { total_bytes_ = total_bytes; }
  // Erases the line (once).
  void finish();

  // Whether a display goes anywhere: standard error is a terminal that is not "dumb".
  static bool enabled();

 private:
  std::string what_, unit_;
  std::optional<std::uint64_t> total_bytes_;
  bool enabled_;
  std::chrono::milliseconds show_after_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// 1234567 -> "1,234,567".
std::string with_thousands(std::uint64_t n);

}  // namespace retarget::cli
