// The merge points of the command line (cli/partitions.hpp) across the
// processes of an MPI job: rank r of P owns the users with
// owner_of(id, P) == r, keeps them in D/rank-r-of-P, and every merge
// gathers the partial values on rank 0, which prints. The catalog and the
// rules are applied on every rank alike (replicated state), so that pins are
// the same everywhere; what differs per rank is its users' events.
//
// Thread safety: the command line's thread only.
#pragma once

#include "comm.hpp"
#include "partitions.hpp"

namespace retarget::mpi {

class MpiPartitions : public cli::Partitions {
 public:
  explicit MpiPartitions(Comm& comm) : comm_(comm) {}

  // The rank whose output is the command's (rank 0, or the asked user's owner).
  int answering_rank() const { return answering_rank_; }
  // The command asked about one user: only its owner's outcome counts (the
  // other ranks do not know the user).
  bool asked_about_user() const { return asked_about_user_; }
  // This process gave up because another failed to open (all_ok): the
  // command's exit code is the failing one's.
  bool stopped_for_another() const { return stopped_for_another_; }

  Result<std::string> data_directory(const std::string& configured, bool writes) override;
  bool all_ok(bool ok) override;
  Status prepare(Engine& engine) override;
  Status check_agreement(Engine& engine) override;
  Result<IngestReport> ingest(Engine& engine, const std::string& path, const IngestOptions& options) override;
  void answer_for_user(const std::string& user) override;
  bool reads_input() const override { return comm_.root(); }

  Result<SegmentResult> merge(Result<SegmentResult> local, const EvaluateOptions& options) override;
  std::vector<SourceStatus> merge(std::vector<SourceStatus> local) override;
  UsersExport merge(UsersExport local, const std::vector<std::string>& ids) override;
  RecipientsExport merge(RecipientsExport local) override;
  AnalyticsReport merge(AnalyticsReport local) override;
  SweepReport merge(SweepReport local) override;
  Result<RestoreJobInfo> merge(Result<RestoreJobInfo> local) override;
  std::vector<RestoreJobInfo> merge(std::vector<RestoreJobInfo> local) override;
  StoreCheck merge(StoreCheck local) override;

 private:
  // Rank 0's verdict on every process: ok, or the first failing rank's error.
  Status shared_status(const Status& local);

  Comm& comm_;
  int answering_rank_ = 0;
  bool asked_about_user_ = false;
  bool stopped_for_another_ = false;
};

}  // namespace retarget::mpi
