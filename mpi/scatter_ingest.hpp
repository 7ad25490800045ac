// Ingest into partitioned engines: rank 0 reads the input once, in blocks of
// whole lines, and sends each line to the rank owning its user (partition.hpp);
// every rank ingests its share of a block (durable before the next block is
// read), and the report is the whole input's, with the input's line numbers.
//
// A line whose user cannot be read (not JSON, no string `user`) goes to rank
// 0, whose engine rejects it with the reason a single process would give.
//
// Collective: every rank calls it with the same path and options; the result
// (the merged report, or the first failure) is the same on every rank.
#pragma once

#include <string>

#include "comm.hpp"
#include "retarget/engine.hpp"

namespace retarget::mpi {

Result<IngestReport> scatter_ingest(Comm& comm, Engine& engine, const std::string& path, const IngestOptions& options);

}  // namespace retarget::mpi
