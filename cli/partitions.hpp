// Where a command's partial results meet when several engine processes each
// own a partition of the users (retarget-mpi, mpi/). `retarget` alone is one
// partition and uses this base class, whose every method is the identity: the
// commands call these merge points unconditionally, so that both executables
// run the same command code and print the same formats.
//
// Under retarget-mpi every method is collective: every process of the
// command calls it, in the same order, with its own partial value; the
// merged value is complete on the process that prints (rank 0; for a
// question about one user, the user's owner: answer_for_user).
//
// Thread safety: the command line's thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "retarget/engine.hpp"
#include "retarget/format.hpp"

namespace retarget::cli {

class Partitions {
 public:
  virtual ~Partitions() = default;

  // This process's data directory for the configured one (`writes`: the
  // command may create it). An error refuses the command (exit 2).
  virtual Result<std::string> data_directory(const std::string& configured, bool writes) {
    (void)writes;
    return configured;
  }
  // After the open and --catalog, before anything is exchanged: whether
  // every process got this far (false: some failed and said why).
  virtual bool all_ok(bool ok) { return ok; }
  // Before the command's body runs: what the lifecycle rules need from
  // every partition (each source's last send) is shared.
  virtual Status prepare(Engine& engine) {
    (void)engine;
    return Status::Ok();
  }
  // Before a sweep or a restore changes tiers: every partition decides at the
  // same instant (rank 0's clock) and made the same decisions (pins, expiry).
  virtual Status check_agreement(Engine& engine) {
    (void)engine;
    return Status::Ok();
  }
  // Ingests a JSON Lines file ("-" = standard input) into the partitions:
  // each event goes to the process owning its user; the report is the
  // whole input's (line numbers of the input).
  virtual Result<IngestReport> ingest(Engine& engine, const std::string& path, const IngestOptions& options) {
    return engine.ingest_file(path, options);
  }
  // Whether this process reads the input files of an ingest (retarget-mpi:
  // rank 0 only; the others need not have them).
  virtual bool reads_input() const { return true; }
  // A question about one user (explain, profile): the user's owner answers.
  virtual void answer_for_user(const std::string& user) { (void)user; }

  // The merge points. Errors (a failed Result) are merged too: the first
  // process's error wins, so that every process leaves the merge together.
  virtual Result<SegmentResult> merge(Result<SegmentResult> local, const EvaluateOptions& options) {
    (void)options;
    return local;
  }
  // Each source's record count is the sum of the partitions'.
  virtual std::vector<SourceStatus> merge(std::vector<SourceStatus> local) { return local; }
  // `ids` as asked: each user comes from the process owning it.
  virtual UsersExport merge(UsersExport local, const std::vector<std::string>& ids) {
    (void)ids;
    return local;
  }
  virtual RecipientsExport merge(RecipientsExport local) { return local; }
  virtual AnalyticsReport merge(AnalyticsReport local) { return local; }
  virtual SweepReport merge(SweepReport local) { return local; }
  virtual Result<RestoreJobInfo> merge(Result<RestoreJobInfo> local) { return local; }
  virtual std::vector<RestoreJobInfo> merge(std::vector<RestoreJobInfo> local) { return local; }
  virtual StoreCheck merge(StoreCheck local) { return local; }
};

}  // namespace retarget::cli
