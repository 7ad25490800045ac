// The durable data directory: the write-ahead log, checkpoints of the index,
// long-term storage, the raw events, and the manifest that ties them.
//
//   <dir>/RETARGET-FORMAT        "retarget data directory 2"
//   <dir>/RETARGET-CURRENT       names the manifest
//   <dir>/RETARGET-MANIFEST-n    edits: the current checkpoint, archives, event blocks
//   <dir>/LOCK                   held by the one process that writes
//   <dir>/wal/N.log              the log since the last checkpoint (record logs)
//   <dir>/tables/T.rtt           checkpoint tables: columns, users, hashes, state
//   <dir>/archive/*.rta          long-term storage: expired sources' columns, compressed
//   <dir>/events/N.rte           raw events: sealed log files, compressed (store rebuild reads them)
//
// Opening loads the current checkpoint (its column blocks used in place) and
// replays only the log after it. A checkpoint writes only what changed since
// the previous one (a full one now and then, to reclaim space), into one new
// table; unchanged columns stay where they are.
//
// Thread safety: log() and sync() are called by the engine's writer path;
// the checkpoint, archive and inspection methods may run on other threads
// at the same time (they take the directory's own file lock, files_mu_).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "index/index_image.hpp"
#include "retarget/status.hpp"
#include "storage/env.hpp"
#include "storage/table_file.hpp"
#include "store/manifest.hpp"
#include "store/wal.hpp"

namespace retarget::store {

// What opening hands the engine, in this order: the engine's own state from
// the checkpoint, then the users, columns, sources and analytics, then every
// log record after the checkpoint.
class Loader {
 public:
  virtual ~Loader() = default;
  virtual Status engine_state(const nlohmann::json& state) = 0;
  virtual void user(std::shared_ptr<const void> owner, std::string_view id, std::uint16_t bucket) = 0;
  virtual Status column(const ColumnImage& column) = 0;
  virtual void source(const SourceImage& source) = 0;
  virtual void analytics(const std::string& source_key, SourceAnalytics analytics) = 0;
  virtual Status record(RecordType type, std::string_view payload, LogPosition end) = 0;
};

struct DataDirOptions {
  storage::Env* env = nullptr;  // nullptr: Env::Default()
  bool read_only = false;
};

// One problem `store check` found, and where.
struct StoreProblem {
  std::string file;
  std::uint64_t offset = 0;
  std::string message;
};

// Whether `dir` holds an earlier release's data directory (an embedded RocksDB store).
bool is_legacy_layout(storage::Env& env, const std::string& dir);

class DataDir {
 public:
  // Opens `dir` (a writable open creates a missing one). A directory written
  // by an earlier release (a RocksDB store) is refused, naming
  // `retarget store rebuild`. A writable open takes LOCK; a read-only open
  // takes nothing and reads the last checkpoint and the log as they are.
  static Result<std::unique_ptr<DataDir>> Open(const std::string& dir, const DataDirOptions& options);
  ~DataDir();

  const std::string& path() const { return dir_; }
  bool read_only() const { return read_only_; }
  // True once recovery opened the log for appending (a failed open never does).
  bool log_open() const { return wal_ != nullptr; }
  storage::Env& env() { return *env_; }

  // Recovery: hands the checkpoint and the log tail to `loader`. Writable:
  // then opens the log for appending (a torn final record dropped).
  // `rebuild`: ignore the checkpoint and replay every record the directory
  // holds (raw-event blocks, then the log); nothing is deleted until the
  // checkpoint that follows is written.
  Status load(Loader& loader, bool rebuild = false);
  // The content hashes of events stored before the checkpoint (the dedup set).
  Status load_hashes(HashSet128& into);
  std::uint64_t persisted_hashes() const { return persisted_hashes_; }
  // The time of the newest state a reader sees (the last checkpoint or log
  // record), ms since the epoch.
  std::int64_t as_of_ms() const { return as_of_ms_; }

  // --- the write path (REQUIRES: writable) ---
  Status log(RecordType type, std::string_view payload);
  Status sync();
  std::uint64_t log_bytes_since_checkpoint() const;
  // A checkpoint in two steps: prepare() under the engine's writer lock (the
  // log moves to a new file: the checkpoint covers every file before it),
  // then write() with what the builder captured at the same moment, outside
  // the lock. `full`: every column (reclaims the space of superseded ones).
  Result<LogPosition> prepare_checkpoint();
  Status write_checkpoint(const BuilderImage& image, const nlohmann::json& engine_state, LogPosition covered,
                          bool full);
  // Whether the next checkpoint should be full (superseded bytes outweigh live ones).
  bool full_checkpoint_due() const;

  // --- long-term storage (the tier mover) ---
  // Writes the source's columns to a compressed archive file; from the edit
  // on, they are there and not in the live tables. `users`: everyone with
  // data in the source (what its expired-data warnings name).
  Status archive_source(const std::string& source_key, const std::vector<ColumnImage>& columns, const Roaring& users,
                        const std::function<void(std::uint64_t done, std::uint64_t total)>& progress = {});
  bool archived(const std::string& source_key) const;
  std::vector<std::string> archived_sources() const;
  Result<std::vector<ColumnImage>> load_archive(const std::string& source_key);
  Result<Roaring> archived_users(const std::string& source_key);
  // Writes a restored source's columns into a live table; the archive file
  // goes once the edit is durable.
  Status unarchive_source(const std::string& source_key, const std::vector<ColumnImage>& columns,
                          const std::function<void(std::uint64_t done, std::uint64_t total)>& progress = {});
  // The legacy policy: the source's archive is deleted for good.
  Status drop_archive(const std::string& source_key);

  // --- the raw-event blocks (the legacy purge rewrites them) ---
  // The sealed blocks (numbered as the log files they were), ascending.
  std::vector<std::uint64_t> event_blocks() const;
  // A block's records: a log file's bytes (storage::parse_log reads them).
  Result<std::shared_ptr<storage::FileBuffer>> read_event_block(std::uint64_t n);
  // Replaces a block with `log_bytes` (storage::encode_log), atomically: a
  // crash leaves the old block or the new one.
  Status replace_event_block(std::uint64_t n, std::string_view log_bytes);

  // --- inspection and repair ---
  // Verifies every checksum of every file the manifest names and every log
  // record; each problem with its file and offset.
  // `on_progress(bytes_checked, bytes_total)` runs on the calling thread about
  // every 100 ms while worker threads read the files.
  using CheckProgress = std::function<void(std::uint64_t checked, std::uint64_t total)>;
  std::vector<StoreProblem> check(const CheckProgress& on_progress = {});
  struct Sizes {
    std::uint64_t tables = 0, archive = 0, events = 0, wal = 0;
  };
  Sizes sizes();

 private:
  DataDir(std::string dir, const DataDirOptions& options);
  std::string table_path(std::uint64_t t) const;
  Status seal_log_files(LogPosition covered);
  Status collect_garbage();
  Result<std::shared_ptr<const storage::TableReader>> table(std::uint64_t t);

  std::string dir_;
  storage::Env* env_;
  bool read_only_;
  std::unique_ptr<storage::FileLock> lock_;
  std::unique_ptr<Wal> wal_;
  std::int64_t as_of_ms_ = 0;
  LogPosition covered_;  // by the current checkpoint

  mutable std::mutex files_mu_;  // guards everything below
  std::unique_ptr<Manifest> manifest_;
  ManifestState read_state_;  // read-only opens: the manifest as read
  // The current checkpoint's directory, with what restores added since.
  struct ColumnEntry {
    std::uint64_t table = 0;
    std::string section;
    ColumnImage::Kind kind = ColumnImage::Kind::kFact;
    std::string source, key;
  };
  std::map<std::string, ColumnEntry> columns_;                // by ColumnImage::id()
  std::map<std::string, std::uint64_t> analytics_;            // source key -> table
  std::map<std::string, SourceImage> sources_;                // every source's last image
  std::vector<std::pair<std::uint64_t, std::uint64_t>> user_segments_;  // (table, users in it), in order
  std::vector<std::uint64_t> hash_segments_;                  // tables holding a "hashes" section
  std::map<std::uint64_t, std::uint64_t> hash_counts_;        // hashes in each
  std::uint64_t persisted_hashes_ = 0;
  std::map<std::uint64_t, std::shared_ptr<const storage::TableReader>> readers_;
  std::uint64_t checkpoints_since_full_ = 0;
  // Files being written that no edit names yet: garbage collection leaves them.
  std::set<std::string> in_progress_;
};

}  // namespace retarget::store
