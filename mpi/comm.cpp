// comm.hpp: collectives with a step check and a deadline.
#include "comm.hpp"

#include <climits>
#include <cstdlib>
#include <iostream>
#include <thread>

namespace retarget::mpi {

const char* step_name(Step s) {
  switch (s) {
    case Step::kOpened: return "opened its data directory";
    case Step::kIngest: return "started an ingest";
    case Step::kPrepare: return "shared the lifecycle inputs";
    case Step::kAgreement: return "compared expiry decisions";
    case Step::kMerge: return "merging results";
    case Step::kDone: return "finished the command";
  }
  return "?";
}

namespace {

std::chrono::seconds timeout_from_environment(const char* name, long default_seconds) {
  if (const char* env = std::getenv(name); env && *env) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end && *end == '\0' && v > 0) return std::chrono::seconds(v);
  }
  return std::chrono::seconds(default_seconds);
}

int int_count(std::size_t n, const Comm& comm) {
  if (n > static_cast<std::size_t>(INT_MAX))
    comm.abort("a message of " + std::to_string(n) + " bytes is larger than one MPI transfer (2 GiB) allows");
  return static_cast<int>(n);
}

}  // namespace

Comm::Comm(MPI_Comm comm)
    : comm_(comm),
      timeout_(timeout_from_environment("RETARGET_MPI_TIMEOUT", 600)),
      step_timeout_(timeout_from_environment("RETARGET_MPI_STEP_TIMEOUT", 86400)) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

void Comm::abort(const std::string& message) const {
  if (on_abort_) on_abort_();
  std::cerr << "retarget-mpi: rank " << rank_ << ": " << message << std::endl;
  MPI_Abort(comm_, 1);
  std::_Exit(1);  // MPI_Abort does not return; this satisfies [[noreturn]]
}

void Comm::wait(MPI_Request& request, const char* what, bool after_work) const {
  const std::chrono::seconds limit = after_work ? step_timeout_ : timeout_;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto pause = std::chrono::microseconds(20);
  for (;;) {
    int done = 0;
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    if (std::chrono::steady_clock::now() > deadline)
      abort(std::string("no answer from the other processes within ") + std::to_string(limit.count()) +
            " s while " + what + (after_work ? " (RETARGET_MPI_STEP_TIMEOUT" : " (RETARGET_MPI_TIMEOUT") +
            " sets the limit)");
    std::this_thread::sleep_for(pause);
    if (pause < std::chrono::milliseconds(2)) pause *= 2;
  }
}

bool Comm::step(Step where, bool ok) {
  const std::int64_t w = static_cast<std::int64_t>(where);
  std::int64_t mine[3] = {w, -w, ok ? 0 : 1}, all[3] = {0, 0, 0};
  MPI_Request request;
  MPI_Iallreduce(mine, all, 3, MPI_INT64_T, MPI_MAX, comm_, &request);
  wait(request, step_name(where), /*after_work=*/true);
  if (all[0] != -all[1])
    abort(std::string("the processes diverged: this one ") + step_name(where) + ", another " +
          step_name(static_cast<Step>(all[0] == w ? -all[1] : all[0])) +
          " (a process failed early: its message is above)");
  return all[2] == 0;
}

std::vector<std::string> Comm::gather(const std::string& mine) {
  std::uint64_t size = mine.size();
  std::vector<std::uint64_t> sizes(root() ? size_ : 0);
  MPI_Request request;
  MPI_Igather(&size, 1, MPI_UINT64_T, sizes.data(), 1, MPI_UINT64_T, 0, comm_, &request);
  wait(request, "gathering sizes");
  std::vector<int> counts, offsets;
  std::string all;
  if (root()) {
    std::size_t total = 0;
    for (int r = 0; r < size_; ++r) {
      counts.push_back(int_count(sizes[r], *this));
      offsets.push_back(int_count(total, *this));
      total += sizes[r];
    }
    int_count(total, *this);
    all.resize(total);
  }
  MPI_Igatherv(mine.data(), int_count(mine.size(), *this), MPI_BYTE, all.data(), counts.data(), offsets.data(),
               MPI_BYTE, 0, comm_, &request);
  wait(request, "gathering results");
  if (!root()) bytes_sent_ += mine.size() + sizeof size;
  std::vector<std::string> out;
  if (root())
    for (int r = 0; r < size_; ++r) out.push_back(all.substr(offsets[r], sizes[r]));
  return out;
}

std::string Comm::broadcast(const std::string& value, bool after_work) {
  std::uint64_t size = value.size();
  MPI_Request request;
  MPI_Ibcast(&size, 1, MPI_UINT64_T, 0, comm_, &request);
  wait(request, "broadcasting a size", after_work);
  std::string out = root() ? value : std::string(size, '\0');
  MPI_Ibcast(out.data(), int_count(size, *this), MPI_BYTE, 0, comm_, &request);
  wait(request, "broadcasting");
  if (root()) bytes_sent_ += (out.size() + sizeof size) * static_cast<std::uint64_t>(size_ - 1);
  return out;
}

std::string Comm::scatter(const std::vector<std::string>& parts) {
  std::vector<std::uint64_t> sizes;
  std::vector<int> counts, offsets;
  std::string all;
  if (root()) {
    if (static_cast<int>(parts.size()) != size_) abort("scatter: one part per process expected");
    for (const auto& p : parts) {
      sizes.push_back(p.size());
      counts.push_back(int_count(p.size(), *this));
      offsets.push_back(int_count(all.size(), *this));
      all += p;
    }
  }
  std::uint64_t size = 0;
  MPI_Request request;
  MPI_Iscatter(sizes.data(), 1, MPI_UINT64_T, &size, 1, MPI_UINT64_T, 0, comm_, &request);
  wait(request, "scattering sizes");
  std::string mine(size, '\0');
  MPI_Iscatterv(all.data(), counts.data(), offsets.data(), MPI_BYTE, mine.data(), int_count(size, *this), MPI_BYTE, 0,
                comm_, &request);
  wait(request, "scattering input");
  if (root()) bytes_sent_ += all.size() - mine.size() + sizeof size * static_cast<std::uint64_t>(size_ - 1);
  return mine;
}

}  // namespace retarget::mpi
