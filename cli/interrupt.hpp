// Ctrl-C (SIGINT) and SIGTERM during a long command: the first one asks the
// command to stop at its next safe point (an ingest: after committing what it
// has read), the second one ends the process at once (the data directory is
// crash-safe either way).
//
// Thread safety: one instance at a time (it owns the process's handlers for
// the two signals while it lives); requested() may be read from any thread.
#pragma once

#include <atomic>
#include <csignal>

namespace retarget::cli {

class StopOnSignal {
 public:
  StopOnSignal();
  ~StopOnSignal();  // puts the previous handlers back
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

  // Set once a signal came (IngestOptions::stop, EvaluateOptions::cancel).
  const std::atomic<bool>* flag() const;
  bool requested() const { return flag()->load(); }
  // The signal that came (SIGINT or SIGTERM), 0 before.
  int signal() const;

 private:
  struct sigaction previous_int_ {}, previous_term_ {};
};

}  // namespace retarget::cli
