// The write-ahead log: numbered record-log files in <data dir>/wal/. Every
// change (event batches, catalog and rules changes, status and lifecycle
// changes, restore jobs) is one record, appended in the order it happened;
// a change is acknowledged only after the sync that follows its record.
//
// A position names the end of a record: (file number, byte offset). A
// checkpoint covers the log up to a position; opening replays what follows.
//
// Thread safety: a Wal is used by the engine's writer path (one thread at a
// time); reading is a function of the files.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "storage/env.hpp"
#include "storage/record_log.hpp"

namespace retarget::store {

enum class RecordType : std::uint8_t {
  kEvents = 1,     // a batch of accepted events (binary, event_codec)
  kMeta = 2,       // a catalog, rules, status or segment-removal change (JSON)
  kLifecycle = 3,  // one source's lifecycle state (JSON)
  kJob = 4,        // a restore job's state (JSON)
  kResidue = 5,    // profile-level data of purged legacy events (binary, event_codec)
};

struct LogPosition {
  std::uint64_t file = 0;
  std::uint64_t offset = 0;
  bool operator<(const LogPosition& o) const { return file < o.file || (file == o.file && offset < o.offset); }
  bool operator==(const LogPosition& o) const { return file == o.file && offset == o.offset; }
};

std::string wal_file_name(std::uint64_t number);  // "00000000000000000007.log"

// The records of the log after a position, in order.
struct LogTail {
  struct Record {
    RecordType type;
    std::string_view payload;  // into `buffers`
    LogPosition end;
  };
  std::vector<std::shared_ptr<storage::FileBuffer>> buffers;
  std::vector<Record> records;
  std::uint64_t last_file = 0;         // the newest file (0: none)
  std::uint64_t last_file_valid = 0;   // its bytes up to the last good record
  std::uint64_t torn_bytes = 0;        // a torn final record dropped
};

// Reads every record after `from` (files numbered below from.file are not
// read). Damage anywhere but a torn tail of the newest file is an error that
// names the file and the offset. (A reader while a writer appends sees the
// record being written as such a tail.)
// `event_blocks`: sealed files (in events_dir, compressed) that hold the
// log's earlier files: read first when `from` reaches back to them (a
// directory without a checkpoint, or a rebuild).
Result<LogTail> read_log_tail(storage::Env& env, const std::string& wal_dir, LogPosition from,
                              const std::string& events_dir = "", const std::set<std::uint64_t>& event_blocks = {});
// The numbers of the files in the log, ascending.
Result<std::vector<std::uint64_t>> wal_files(storage::Env& env, const std::string& wal_dir);

class Wal {
 public:
  // Continues after `tail`: truncates a torn tail of the newest file and
  // appends to it, or starts file `next_number` when there is none.
  static Result<std::unique_ptr<Wal>> Open(storage::Env& env, const std::string& wal_dir, const LogTail& tail,
                                           std::uint64_t next_number);

  Status append(RecordType type, std::string_view payload);
  Status sync() { return writer_->sync(); }
  // The end of the last record appended.
  LogPosition position() const { return {number_, writer_->size()}; }
  // Closes the current file and starts the next; returns the new file's start.
  Result<LogPosition> roll();
  std::uint64_t current_file() const { return number_; }
  std::uint64_t bytes_in_current_file() const { return writer_->size(); }

 private:
  Wal(storage::Env& env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  storage::Env& env_;
  std::string dir_;
  std::uint64_t number_ = 0;
  std::unique_ptr<storage::LogWriter> writer_;
};

}  // namespace retarget::store
