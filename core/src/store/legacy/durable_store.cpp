#include "store/durable_store.hpp"

#include <rocksdb/db.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/options_util.h>
#include <rocksdb/write_batch.h>

#include <cstdio>

namespace retarget {

namespace {

const char* kFamilies[] = {"meta", "profile", "live", "archive"};

Status io(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  return Status::IoError(what + ": " + s.ToString());
}

std::string log_key(std::uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "log/%020llu", static_cast<unsigned long long>(n));
  return buf;
}

}  // namespace

Result<std::unique_ptr<DurableStore>> DurableStore::Open(const std::string& dir) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.paranoid_checks = true;  // refuse a corrupted store rather than serve from it

  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  db_options.allow_concurrent_memtable_write = false;  // required by the vector memtable
  for (const char* name : kFamilies) {
    rocksdb::ColumnFamilyOptions cf;
    cf.compression = rocksdb::kLZ4Compression;
    if (std::string(name) != "meta") {
      // Events arrive in hash order and are read back only by whole scans:
      // an unsorted vector memtable (sorted once at flush) inserts far faster
      // than the default skip list.
      cf.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
      cf.write_buffer_size = 128 << 20;
    }
    if (std::string(name) == "archive") {
      // Long-term storage: written once, read on restore; compress hard.
      cf.compression = rocksdb::kZSTD;
      cf.bottommost_compression = rocksdb::kZSTD;
    }
    families.emplace_back(name, cf);
  }
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());

  std::unique_ptr<DurableStore> store(new DurableStore());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, families, &handles, &db);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
      return Status::IoError("data directory '" + dir + "' is in use by another retarget process (" + s.ToString() + ")");
    return Status::IoError("cannot open data directory '" + dir + "': " + s.ToString());
  }
  store->db_.reset(db);
  store->handles_ = handles;
  // The next log number: one past the last log key.
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), store->handle(Family::kMeta)));
  it->SeekForPrev("log/~");
  if (it->Valid() && it->key().starts_with("log/"))
    store->next_log_ = std::stoull(it->key().ToString().substr(4)) + 1;
  return store;
}

DurableStore::~DurableStore() {
  if (!db_) return;
  // Flush memtables so the next open reads sorted tables instead of
  // replaying the write-ahead log (a crash still replays it, losing nothing).
  rocksdb::FlushOptions flush;
  flush.wait = true;
  db_->Flush(flush, handles_);
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

Status DurableStore::append_log(const nlohmann::json& op) {
  rocksdb::WriteOptions w;
  w.sync = true;
  return io(db_->Put(w, handle(Family::kMeta), log_key(next_log_++), op.dump()), "writing the change log");
}

Result<std::vector<nlohmann::json>> DurableStore::read_log() const {
  std::vector<nlohmann::json> ops;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handle(Family::kMeta)));
  for (it->Seek("log/"); it->Valid() && it->key().starts_with("log/"); it->Next()) {
    auto op = nlohmann::json::parse(it->value().ToString(), nullptr, false);
    if (op.is_discarded()) return Status::IoError("corrupt change log entry " + it->key().ToString());
    ops.push_back(std::move(op));
  }
  if (!it->status().ok()) return io(it->status(), "reading the change log");
  return ops;
}

Status DurableStore::put_state(const std::string& source_key, const nlohmann::json& state) {
  rocksdb::WriteOptions w;
  w.sync = true;
  return io(db_->Put(w, handle(Family::kMeta), "state/" + source_key, state.dump()), "writing lifecycle state");
}

Result<std::map<std::string, nlohmann::json>> DurableStore::read_states() const {
  std::map<std::string, nlohmann::json> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handle(Family::kMeta)));
  for (it->Seek("state/"); it->Valid() && it->key().starts_with("state/"); it->Next()) {
    auto st = nlohmann::json::parse(it->value().ToString(), nullptr, false);
    if (st.is_discarded()) return Status::IoError("corrupt lifecycle state " + it->key().ToString());
    out[it->key().ToString().substr(6)] = std::move(st);
  }
  if (!it->status().ok()) return io(it->status(), "reading lifecycle state");
  return out;
}

Status DurableStore::write(const std::vector<Record>& records, bool sync) {
  rocksdb::WriteBatch batch;
  for (const auto& r : records) batch.Put(handle(r.family), r.key, r.value);
  rocksdb::WriteOptions w;
  w.sync = sync;
  return io(db_->Write(w, &batch), "writing events");
}

Status DurableStore::scan(Family family, const std::function<void(std::string_view, std::string_view)>& fn) const {
  rocksdb::ReadOptions r;
  r.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(r, handle(family)));
  for (it->SeekToFirst(); it->Valid(); it->Next())
    fn(std::string_view(it->key().data(), it->key().size()), std::string_view(it->value().data(), it->value().size()));
  return io(it->status(), "scanning the store");
}

Result<std::uint64_t> DurableStore::move_source(const std::string& source_key, Family from, Family to,
                                                std::size_t batch_size,
                                                const std::function<void(std::uint64_t)>& progress) {
  std::string prefix = source_prefix(source_key);
  std::uint64_t moved = 0;
  rocksdb::ReadOptions r;
  r.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(r, handle(from)));
  rocksdb::WriteBatch batch;
  std::size_t in_batch = 0;
  auto flush = [&]() -> Status {
    if (in_batch == 0) return Status::Ok();
    rocksdb::WriteOptions w;  // each step atomic; the final state write is synced
    Status s = io(db_->Write(w, &batch), "moving records between tiers");
    batch.Clear();
    moved += in_batch;
    in_batch = 0;
    if (s.ok() && progress) progress(moved);
    return s;
  };
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    batch.Put(handle(to), it->key(), it->value());
    batch.Delete(handle(from), it->key());
    if (++in_batch == batch_size) {
      Status s = flush();
      if (!s.ok()) return s;
    }
  }
  if (!it->status().ok()) return io(it->status(), "reading records to move");
  Status s = flush();
  if (!s.ok()) return s;
  return moved;
}

Status DurableStore::delete_source(const std::string& source_key) {
  std::string begin = source_prefix(source_key);
  std::string end = source_key + std::string(1, '\1');
  rocksdb::WriteOptions w;
  w.sync = true;
  rocksdb::WriteBatch batch;
  batch.DeleteRange(handle(Family::kLive), begin, end);
  batch.DeleteRange(handle(Family::kArchive), begin, end);
  return io(db_->Write(w, &batch), "deleting a source's data");
}

Result<std::uint64_t> DurableStore::count_source(const std::string& source_key, Family family) const {
  std::string prefix = source_prefix(source_key);
  std::uint64_t n = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handle(family)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++n;
  if (!it->status().ok()) return io(it->status(), "counting records");
  return n;
}

}  // namespace retarget
