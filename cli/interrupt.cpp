// interrupt.hpp: a flag set from the signal handler (a lock-free atomic store
// and sigaction are async-signal-safe).
#include "interrupt.hpp"

namespace retarget::cli {

namespace {

std::atomic<bool> g_requested{false};
std::atomic<int> g_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int sig) {
  g_signal.store(sig);
  g_requested.store(true);
  // A second one ends the process the usual way.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
}

}  // namespace

StopOnSignal::StopOnSignal() {
  g_requested.store(false);
  g_signal.store(0);
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  // Reads in progress restart: an interrupted read of standard input must not look like its end.
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previous_int_);
  sigaction(SIGTERM, &action, &previous_term_);
}

StopOnSignal::~StopOnSignal() {
  sigaction(SIGINT, &previous_int_, nullptr);
  sigaction(SIGTERM, &previous_term_, nullptr);
}

const std::atomic<bool>* StopOnSignal::flag() const { return &g_requested; }

int StopOnSignal::signal() const { return g_signal.load(); }

}  // namespace retarget::cli
