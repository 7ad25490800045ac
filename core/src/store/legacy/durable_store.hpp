// The durable data directory: an embedded RocksDB database.
//
// Column families:
//   meta     the ordered log of catalog, rules and status changes (replayed on
//            open), per-source lifecycle state, counters;
//   profile  events that carry no interaction data (flags, attributes, ...);
//   live     interaction events of live sources, keyed source \0 content-hash;
//   archive  the long-term tier: interaction events of expired sources, same
//            keys, compressed with zstd.
// An event's key is its content hash, so writing it twice stores it once.
//
// Writes that acknowledge ingest are synced (WAL, one sync per batch: group
// commit). A tier move goes batch by batch, each batch an atomic
// put-here + delete-there, so after a crash at any instant every record is in
// exactly one tier; the source's lifecycle state records the move so that
// opening the store finishes it.
//
// Thread safety: all methods may be called from any thread (RocksDB is).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "retarget/status.hpp"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace retarget {

class DurableStore {
 public:
  enum class Family { kMeta, kProfile, kLive, kArchive };

  static Result<std::unique_ptr<DurableStore>> Open(const std::string& dir);
  ~DurableStore();

  // --- the change log ---
  Status append_log(const nlohmann::json& op);
  Result<std::vector<nlohmann::json>> read_log() const;

  // --- per-source lifecycle state ---
  Status put_state(const std::string& source_key, const nlohmann::json& state);
  Result<std::map<std::string, nlohmann::json>> read_states() const;

  // --- events ---
  struct Record {
    Family family;
    std::string key, value;
  };
  // Writes records atomically; `sync` makes them durable before returning.
  Status write(const std::vector<Record>& records, bool sync);
  // Calls `fn(key, value)` for every record of a family (in key order).
  Status scan(Family family, const std::function<void(std::string_view, std::string_view)>& fn) const;
  static std::string source_prefix(const std::string& source_key) { return source_key + std::string(1, '\0'); }

  // Moves every record of a source from one tier to the other, `batch`
  // records per atomic step; `progress(moved)` after each. Returns the number moved.
  Result<std::uint64_t> move_source(const std::string& source_key, Family from, Family to, std::size_t batch,
                                    const std::function<void(std::uint64_t)>& progress = {});
  Status delete_source(const std::string& source_key);
  // Number of records of a source in a family.
  Result<std::uint64_t> count_source(const std::string& source_key, Family family) const;

 private:
  DurableStore() = default;
  rocksdb::ColumnFamilyHandle* handle(Family f) const { return handles_[static_cast<int>(f)]; }
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // indexed by Family
  std::uint64_t next_log_ = 0;
};

}  // namespace retarget
