#include "store/migrate_v1.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "index/index_builder.hpp"
#include "store/data_dir.hpp"
#include "store/event_codec.hpp"

namespace retarget::store {
namespace {

Status io(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  return Status::IoError(what + ": " + s.ToString());
}

// Hands the records to a fresh data directory's log.
class NullLoader final : public Loader {
 public:
  Status engine_state(const nlohmann::json&) override { return Status::Ok(); }
  void user(std::shared_ptr<const void>, std::string_view, std::uint16_t) override {}
  Status column(const ColumnImage&) override { return Status::Ok(); }
  void source(const SourceImage&) override {}
  void analytics(const std::string&, SourceAnalytics) override {}
  Status record(RecordType, std::string_view, LogPosition) override { return Status::Ok(); }
};

}  // namespace

Result<MigrationReport> migrate_v1(const std::string& old_dir, const std::string& new_dir, storage::Env& env) {
  MigrationReport report;
  // 1. Read everything from the old store.
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : {"meta", "profile", "live", "archive"}) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::DBOptions options;
  Status s = io(rocksdb::DB::OpenForReadOnly(options, old_dir, families, &handles, &raw),
                "cannot read the earlier release's data directory '" + old_dir + "'");
  if (!s.ok()) return s;
  std::unique_ptr<rocksdb::DB> db(raw);
  struct Close {
    rocksdb::DB* db;
    std::vector<rocksdb::ColumnFamilyHandle*>& h;
    ~Close() {
      for (auto* x : h) db->DestroyColumnFamilyHandle(x);
    }
  } close{db.get(), handles};
  std::vector<nlohmann::json> changes;
  std::map<std::string, nlohmann::json> states;
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[0]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string key = it->key().ToString();
      auto value = nlohmann::json::parse(it->value().ToString(), nullptr, false);
      if (value.is_discarded()) return Status::IoError(old_dir + ": a damaged record '" + key + "'");
      if (key.rfind("log/", 0) == 0) changes.push_back(std::move(value));
      else if (key.rfind("state/", 0) == 0) states[key.substr(6)] = std::move(value);
    }
    s = io(it->status(), "reading " + old_dir);
    if (!s.ok()) return s;
  }
  struct Stored {
    Event event;
    HashSet128::Key hash;
  };
  std::vector<Stored> events;
  for (int f = 1; f <= 3; ++f) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[static_cast<std::size_t>(f)]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      Stored st;
      std::string_view key(it->key().data(), it->key().size());
      if (key.size() < 16 || !decode_event(std::string_view(it->value().data(), it->value().size()), st.event))
        return Status::IoError(old_dir + ": a stored event does not decode");
      st.hash = IndexBuilder::hash_in_key(key);
      events.push_back(std::move(st));
    }
    s = io(it->status(), "reading " + old_dir);
    if (!s.ok()) return s;
  }
  std::sort(events.begin(), events.end(), [](const Stored& a, const Stored& b) { return a.event.seq < b.event.seq; });

  // 2. Write them as the log of a new data directory. The earlier release
  // applied every event with the catalog current at its replay: the catalog
  // changes come first, so that opening derives what it derived.
  DataDirOptions dopt;
  dopt.env = &env;
  auto dir = DataDir::Open(new_dir, dopt);
  if (!dir.ok()) return dir.status();
  NullLoader nothing;
  s = (*dir)->load(nothing);
  if (!s.ok()) return s;
  std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  for (auto& op : changes) {
    op["logged_at"] = now;
    s = (*dir)->log(RecordType::kMeta, op.dump());
    if (!s.ok()) return s;
    ++report.changes;
  }
  std::vector<Event> batch;
  std::vector<HashSet128::Key> hashes;
  std::string record;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    encode_event_batch(batch, hashes, now, record);
    Status w = (*dir)->log(RecordType::kEvents, record);
    report.events += batch.size();
    batch.clear();
    hashes.clear();
    return w;
  };
  for (auto& st : events) {
    batch.push_back(std::move(st.event));
    hashes.push_back(st.hash);
    if (batch.size() >= 65536) {
      s = flush();
      if (!s.ok()) return s;
    }
  }
  s = flush();
  if (!s.ok()) return s;
  for (const auto& [key, st] : states) {
    nlohmann::json rec{{"source", key},
                       {"tier", st.value("tier", "live")},
                       {"restored_at", st.value("restored_at", std::int64_t{INT64_MIN})},
                       {"pin_released_at", st.value("pin_released_at", std::int64_t{INT64_MIN})},
                       {"tier_changed_at", st.value("tier_changed_at", std::int64_t{INT64_MIN})},
                       {"logged_at", now}};
    s = (*dir)->log(RecordType::kLifecycle, rec.dump());
    if (!s.ok()) return s;
    ++report.sources;
  }
  s = (*dir)->sync();
  if (!s.ok()) return s;
  return report;
}

}  // namespace retarget::store
