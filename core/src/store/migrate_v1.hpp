// Reading a data directory written by the first release (an embedded RocksDB
// store: column families meta, profile, live, archive) into this release's
// layout: its change log, every stored event and every source's lifecycle
// state become log records of a new data directory, in the order they
// happened (events by ingestion order), which opening then replays and
// checkpoints. The old directory is only read (RocksDB's read-only open).
//
// Thread safety: a plain function; nothing else may use either directory.
#pragma once

#include <cstdint>
#include <string>

#include "retarget/status.hpp"
#include "storage/env.hpp"

namespace retarget::store {

struct MigrationReport {
  std::uint64_t changes = 0, events = 0, sources = 0;
};

// REQUIRES: `new_dir` does not exist.
Result<MigrationReport> migrate_v1(const std::string& old_dir, const std::string& new_dir, storage::Env& env);

}  // namespace retarget::store
