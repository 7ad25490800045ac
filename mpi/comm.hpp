// The processes of one retarget-mpi command and what they exchange: Open MPI
// launches them, carries the bytes and does the collectives; this class adds
// what a command line needs on top: a step check (every process is at the
// same point of the command, or the command stops with a message instead of
// hanging), byte-string gather/broadcast/scatter, and a deadline on every
// wait (RETARGET_MPI_TIMEOUT seconds, default 600) so that a lost process
// ends the command rather than freezing it.
//
// Thread safety: the command's thread only (MPI is initialised with
// MPI_THREAD_FUNNELED).
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace retarget::mpi {

// The points of a command where the processes meet (Comm::step).
enum class Step : std::int64_t {
  kOpened = 1,   // the data directory is open, --catalog applied
  kIngest,       // an ingest begins
  kPrepare,      // the lifecycle inputs are shared
  kAgreement,    // pins and expiry decisions are compared
  kMerge,        // partial results are merged
  kDone,         // the command has finished (its exit code is known)
};
const char* step_name(Step s);

class Comm {
 public:
  explicit Comm(MPI_Comm comm);

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }

  // Every process reports reaching `where`, with whether it is ok; returns
  // whether all are. Processes at different points (one finished early,
  // another waits to merge) cannot go on together: the command is aborted
  // with a message naming the step of each side.
  bool step(Step where, bool ok);
  // Every process's `mine`, in rank order, on rank 0 (elsewhere: empty).
  std::vector<std::string> gather(const std::string& mine);
  // Rank 0's `value`, on every process. `after_work`: rank 0 may take long
  // to get there (reading slow input), so the step deadline applies.
  std::string broadcast(const std::string& value, bool after_work = false);
  // parts[r] of rank 0 to rank r (parts is read on rank 0 only).
  std::string scatter(const std::vector<std::string>& parts);

  // The bytes this process has sent to the others (payloads, not MPI's own
  // framing; a broadcast counts once per receiver): RETARGET_MPI_STATS.
  std::uint64_t bytes_sent() const { return bytes_sent_; }

  // Ends every process of the command: `message` on standard error, exit 1.
  [[noreturn]] void abort(const std::string& message) const;
  // Runs first when abort() does (the command line writes out what this
  // process had to say, which would otherwise be lost).
  void on_abort(std::function<void()> f) { on_abort_ = std::move(f); }

 private:
  // Waits for `request` (MPI_Test with a growing pause: the processes often
  // share fewer cores than there are ranks), aborting past the deadline.
  void wait(MPI_Request& request, const char* what, bool after_work = false) const;

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  // Waits at a step (RETARGET_MPI_STEP_TIMEOUT, default a day: another rank
  // may be doing long work, a restore or a check) and waits for data right
  // after one (RETARGET_MPI_TIMEOUT, default 600 s). A rank that dies ends
  // the job through mpirun either way; these catch one that hangs.
  std::chrono::seconds timeout_, step_timeout_;
  std::function<void()> on_abort_;
  std::uint64_t bytes_sent_ = 0;
};

}  // namespace retarget::mpi
