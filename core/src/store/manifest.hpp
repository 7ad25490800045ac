// The MANIFEST: a log of edits naming the files that hold the data directory's
// state (LevelDB's MANIFEST / VersionEdit is the model). RETARGET-CURRENT
// names the manifest file in use.
//
// What the edits say:
//  - {"checkpoint": T, "covered": {"file", "offset"}}: the current checkpoint
//    is table T (its "state" section); it covers the write-ahead log up to
//    that position, and opening replays only what follows;
//  - {"archive": source, "file": name}: the source's columns now lie in that
//    archive file (long-term storage), not in the live tables;
//  - {"unarchive": source, "table": T, "columns": {id: section}}: the
//    restored source's columns lie in live table T again;
//  - {"drop_archive": source}: the legacy policy deleted it;
//  - {"event_block": N}: write-ahead log file N was sealed into events/N.rte;
//  - {"next_file": n}: file numbers below n are taken.
// Where the bytes are is the manifest's; what the state means (tiers, the
// catalog, the index) is the checkpoint's and the log's.
//
// Thread safety: the writer path owns the Manifest; it is not synchronised.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "storage/env.hpp"
#include "storage/record_log.hpp"
#include "store/wal.hpp"

namespace retarget::store {

struct ColumnLocation {
  std::uint64_t table = 0;
  std::string section;
};

struct ManifestState {
  std::uint64_t next_file = 1;
  std::optional<std::uint64_t> checkpoint;  // table number
  LogPosition covered;                      // the log up to here is in the checkpoint
  std::map<std::string, std::string> archives;  // source key -> archive file name (in archive/)
  // Restored sources' columns written after the checkpoint: column id -> where.
  std::map<std::string, ColumnLocation> restored_columns;
  std::set<std::uint64_t> event_blocks;
};

class Manifest {
 public:
  // Reads RETARGET-CURRENT and the manifest it names (missing: a fresh state).
  static Result<ManifestState> Read(storage::Env& env, const std::string& dir);
  // Writes a new manifest holding `state` and points RETARGET-CURRENT at it
  // (the old one is removed); then edits append to it.
  static Result<std::unique_ptr<Manifest>> Create(storage::Env& env, const std::string& dir,
                                                  const ManifestState& state);

  // Appends an edit durably (synced) and applies it to state().
  Status apply(const nlohmann::json& edit);
  const ManifestState& state() const { return state_; }
  std::uint64_t take_file_number() { return state_.next_file++; }

 private:
  explicit Manifest(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  ManifestState state_;
  std::unique_ptr<storage::LogWriter> writer_;
  std::uint64_t number_ = 0;
};

// Applies one edit to a state (also used when reading).
Status apply_edit(ManifestState& state, const nlohmann::json& edit);
nlohmann::json snapshot_edit(const ManifestState& state);

}  // namespace retarget::store
