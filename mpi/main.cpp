// `retarget-mpi`: the command line of `retarget`, run as P processes under
// Open MPI, each owning a partition of the users (docs/scale-out.md):
//
//   mpirun -np 4 retarget-mpi --data-dir /var/lib/retarget evaluate --format count
//
// answers what `retarget --data-dir D evaluate --format count` answers on the
// same data. The commands are retarget's own (cli/); this file gives them
// the MPI merge points (mpi_partitions.hpp), keeps every process's output
// in memory while the command runs (output_capture.hpp), and prints the
// command's answer once, on rank 0.
#include <mpi.h>
#include <sys/resource.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "cli.hpp"
#include "codec.hpp"
#include "comm.hpp"
#include "mpi_partitions.hpp"
#include "output_capture.hpp"

namespace {

using retarget::mpi::Comm;
using retarget::mpi::Reader;
using retarget::mpi::Writer;

// Every line of `text`, prefixed (another rank's messages).
std::string prefix_lines(const std::string& text, const std::string& prefix) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out += prefix + line + "\n";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  // Any MPI error ends the job (no error is swallowed, no process is left waiting).
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
  Comm comm(MPI_COMM_WORLD);
  // The progress line is rank 0's only.
  if (!comm.root()) setenv("TERM", "dumb", 1);

  int code = 0;
  std::string out, err;
  retarget::mpi::MpiPartitions partitions(comm);
  {
    retarget::mpi::OutputCapture capture;
    comm.on_abort([&] {
      capture.release();
      std::cerr << prefix_lines(capture.err(), "retarget-mpi: rank " + std::to_string(comm.rank()) + ": ");
    });
    CLI::App app{"retarget-mpi: retarget's commands over P processes, each owning a partition of the users "
                 "(run under mpirun; docs/scale-out.md)",
                 "retarget-mpi"};
    retarget::cli::Cli cli;
    cli.partitions = &partitions;
    retarget::cli::build_app(app, cli, "retarget-mpi");
    app.footer(app.get_footer() + "\nPartitions: rank r of P keeps its users in DATA_DIR/rank-r-of-P; a user belongs "
                                  "to rank FNV-1a-64(external id) mod P.\n");
    try {
      code = retarget::cli::run_app(app, cli, argc, argv);
    } catch (const std::exception& e) {
      std::cerr << "retarget-mpi: " << e.what() << "\n";
      code = retarget::cli::kFailed;
    }
    capture.release();
    out = capture.out();
    err = capture.err();
  }
  // Should the ranks diverge at the end, what this one said is not lost.
  comm.on_abort([&] { std::cerr << prefix_lines(err, "retarget-mpi: rank " + std::to_string(comm.rank()) + ": "); });

  // Every process has finished: rank 0 prints the command's answer.
  comm.step(retarget::mpi::Step::kDone, true);
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  const std::uint64_t peak_kib = static_cast<std::uint64_t>(usage.ru_maxrss), sent = comm.bytes_sent();
  std::vector<std::string> ends =
      comm.gather(Writer()
                      .i64(code)
                      .str(err)
                      .u64(peak_kib)
                      .u64(sent)
                      .u64(partitions.asked_about_user())
                      .i64(partitions.answering_rank())
                      .take());
  // Which rank answers: the one a rank that got as far as the question named
  // (a rank that failed before it knows none), decided on rank 0 for all.
  std::vector<int> codes;
  std::vector<std::string> errs, stats;
  bool asked = false;
  int answering = 0;
  for (std::size_t rank = 0; rank < ends.size(); ++rank) {
    Reader r(ends[rank]);
    codes.push_back(static_cast<int>(r.i64()));
    errs.push_back(r.str());
    std::uint64_t kib = r.u64(), bytes = r.u64();
    if (r.u64()) asked = true, answering = static_cast<int>(r.i64());
    else r.i64();
    stats.push_back("retarget-mpi: rank " + std::to_string(rank) + ": peak resident " + std::to_string(kib / 1024) +
                    " MiB, sent " + std::to_string(bytes) + " bytes to the other ranks\n");
  }
  {
    const std::string decided = comm.broadcast(Writer().u64(asked).i64(answering).take());
    Reader r(decided);
    asked = r.u64() != 0;
    answering = static_cast<int>(r.i64());
  }
  std::string answer = out;
  if (answering != 0) {
    std::vector<std::string> outs = comm.gather(comm.rank() == answering ? out : std::string());
    if (comm.root()) answer = outs[answering];
  }
  if (comm.root()) {
    std::cout << answer << std::flush;
    std::cerr << errs[answering];
    code = codes[answering];
    if (partitions.stopped_for_another())  // the failing rank's code (rank 0 only followed it)
      for (std::size_t r = 0; r < codes.size(); ++r)
        if (static_cast<int>(r) != answering && codes[r] != retarget::cli::kOk && codes[r] != code) {
          code = codes[r];
          break;
        }
    // A rank that ended otherwise than the answering one failed: say which and why.
    if (!asked)
      for (std::size_t r = 0; r < codes.size(); ++r) {
        if (static_cast<int>(r) == answering || codes[r] == codes[answering]) continue;
        std::cerr << prefix_lines(errs[r], "retarget-mpi: rank " + std::to_string(r) + ": ");
        if (code == retarget::cli::kOk || code == retarget::cli::kSomeRejected) code = codes[r];
      }
    // Per-rank figures (the scale-out benchmark): RETARGET_MPI_STATS=1.
    if (const char* s = std::getenv("RETARGET_MPI_STATS"); s && *s && std::string(s) != "0")
      for (const auto& line : stats) std::cerr << line;
    std::cerr << std::flush;
  }
  MPI_Finalize();
  return comm.root() ? code : 0;
}
