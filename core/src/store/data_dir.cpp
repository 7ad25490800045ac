#include "store/data_dir.hpp"


#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/bytes.hpp"
#include "index/column_file.hpp"

namespace retarget::store {
namespace {

constexpr const char* kFormatFile = "RETARGET-FORMAT";
constexpr const char* kFormatText = "retarget data directory 2\n";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}


std::string numbered(std::uint64_t n, const char* ext) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%020llu%s", static_cast<unsigned long long>(n), ext);
  return buf;
}

std::string hex(std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) out += kHex[c >> 4], out += kHex[c & 15];
  return out;
}

// Parses ColumnImage::id(): kind letter, '/', source, '\x1e', key.
bool parse_column_id(const std::string& id, ColumnImage& out) {
  if (id.size() < 3 || id[1] != '/') return false;
  int kind = id[0] - 'a';
  if (kind < 0 || kind > 7) return false;
  auto sep = id.find('\x1e', 2);
  if (sep == std::string::npos) return false;
  out.kind = static_cast<ColumnImage::Kind>(kind);
  out.source = id.substr(2, sep - 2);
  out.key = id.substr(sep + 1);
  return true;
}

std::string serialize(const ColumnImage& c) {
  if (c.kind == ColumnImage::Kind::kNewsFeed) return serialize_column(*c.counts);
  if (c.kind == ColumnImage::Kind::kAttributeValues) return serialize_column(*c.values);
  return serialize_column(*c.times);
}

Status load_into(ColumnImage& c, std::shared_ptr<storage::FileBuffer> bytes, const std::string& where) {
  if (c.kind == ColumnImage::Kind::kNewsFeed) {
    auto col = load_count_column(std::move(bytes), where);
    if (!col.ok()) return col.status();
    c.counts = std::move(col).value();
  } else if (c.kind == ColumnImage::Kind::kAttributeValues) {
    auto col = load_attribute_column(std::move(bytes), where);
    if (!col.ok()) return col.status();
    c.values = std::move(col).value();
  } else {
    auto col = load_time_column(std::move(bytes), where);
    if (!col.ok()) return col.status();
    c.times = std::move(col).value();
  }
  return Status::Ok();
}

std::string serialize_users(const UserDirectory& users, UserIndex first, UserIndex end) {
  std::string out;
  std::uint64_t count = end - first;
  put_le<std::uint64_t>(out, count);
  put_le<std::uint64_t>(out, first);
  std::uint64_t at = 0;
  put_le<std::uint64_t>(out, 0);
  for (UserIndex u = first; u < end; ++u) put_le<std::uint64_t>(out, at += users.id(u).size());
  for (UserIndex u = first; u < end; ++u) put_le<std::uint16_t>(out, users.bucket(u));
  out.resize((out.size() + 7) / 8 * 8, '\0');
  for (UserIndex u = first; u < end; ++u) out += users.id(u);
  return out;
}

std::string serialize_roaring(const Roaring& r) {
  std::string s(r.getSizeInBytes(true), '\0');
  r.write(s.data(), true);
  return s;
}

Result<Roaring> read_roaring(std::string_view& in, const std::string& where) {
  std::uint64_t n;
  if (!get_le(in, n) || n > in.size()) return Status::IoError(where + ": a truncated bitmap");
  try {
    Roaring r = Roaring::readSafe(in.data(), n);
    in.remove_prefix(n);
    return r;
  } catch (const std::exception& e) {
    return Status::IoError(where + ": a damaged bitmap");
  }
}

std::string serialize_analytics(const SourceAnalytics& a) {
  std::string out;
  put_le<std::uint64_t>(out, a.sends);
  put_le<std::uint64_t>(out, a.opens);
  put_le<std::uint64_t>(out, a.clicks);
  put_le<std::uint64_t>(out, a.conversions);
  std::string r = serialize_roaring(a.recipients), c = serialize_roaring(a.control);
  put_le<std::uint64_t>(out, r.size());
  out += r;
  put_le<std::uint64_t>(out, c.size());
  out += c;
  return out;
}

Result<SourceAnalytics> parse_analytics(std::string_view in, const std::string& where) {
  SourceAnalytics a;
  if (!get_le(in, a.sends) || !get_le(in, a.opens) || !get_le(in, a.clicks) || !get_le(in, a.conversions))
    return Status::IoError(where + ": truncated analytics");
  auto r = read_roaring(in, where);
  if (!r.ok()) return r.status();
  a.recipients = std::move(r).value();
  auto c = read_roaring(in, where);
  if (!c.ok()) return c.status();
  a.control = std::move(c).value();
  return a;
}

}  // namespace

DataDir::DataDir(std::string dir, const DataDirOptions& o)
    : dir_(std::move(dir)), env_(o.env ? o.env : storage::Env::Default()), read_only_(o.read_only) {}

DataDir::~DataDir() {
  // Nothing acknowledged depends on this sync (every acknowledged write was
  // synced before it was acknowledged); it only shortens the next open's replay.
  if (wal_) (void)wal_->sync();
}

std::string DataDir::table_path(std::uint64_t t) const { return dir_ + "/tables/" + numbered(t, ".rtt"); }

Result<std::unique_ptr<DataDir>> DataDir::Open(const std::string& dir, const DataDirOptions& options) {
  std::unique_ptr<DataDir> d(new DataDir(dir, options));
  storage::Env& env = *d->env_;
  // An earlier release's layout: an embedded RocksDB database.
  if (is_legacy_layout(env, dir))
    return Status::Failed("data directory '" + dir +
                          "' was written by an earlier release of Retarget (an embedded RocksDB store); run "
                          "`retarget --data-dir " + dir + " store rebuild` once to convert it to this release's layout");
  if (options.read_only) {
    if (!env.exists(dir)) return Status::NotFound("no data directory at '" + dir + "'");
  } else {
    for (const char* sub : {"", "/wal", "/tables", "/archive", "/events"}) {
      Status s = env.create_dirs(dir + sub);
      if (!s.ok()) return s;
    }
    auto lock = env.lock(dir + "/LOCK");
    if (!lock.ok()) {
      if (lock.status().message() == "in use")
        return Status::Failed("data directory '" + dir +
                              "' is in use by another retarget process (it holds " + dir +
                              "/LOCK); commands that only read still work meanwhile");
      return lock.status();
    }
    d->lock_ = std::move(lock).value();
  }
  std::string format = dir + "/" + kFormatFile;
  if (env.exists(format)) {
    auto text = env.read_file(format);
    if (!text.ok()) return text.status();
    if ((*text)->view() != kFormatText)
      return Status::Failed(format + ": an unknown data directory format ('" +
                            std::string((*text)->view().substr(0, 60)) + "'); this release reads format 2");
  } else if (!options.read_only) {
    Status s = storage::write_file_atomically(env, format, kFormatText);
    if (!s.ok()) return s;
  }
  return d;
}

Result<std::shared_ptr<const storage::TableReader>> DataDir::table(std::uint64_t t) {
  auto it = readers_.find(t);
  if (it != readers_.end()) return it->second;
  auto r = storage::TableReader::Open(*env_, table_path(t));
  if (!r.ok()) return r.status();
  readers_[t] = *r;
  return *r;
}

Status DataDir::load(Loader& loader, bool rebuild) {
  std::lock_guard lock(files_mu_);
  auto state = Manifest::Read(*env_, dir_);
  if (!state.ok()) return state.status();
  read_state_ = *state;
  nlohmann::json engine = nlohmann::json::object();
  LogPosition from = rebuild ? LogPosition{} : state->covered;
  if (state->checkpoint && !rebuild) {
    std::uint64_t t = *state->checkpoint;
    auto reader = table(t);
    if (!reader.ok()) return reader.status();
    auto bytes = (*reader)->read("state");
    if (!bytes.ok()) return bytes.status();
    auto j = nlohmann::json::parse((*bytes)->view(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Status::IoError(table_path(t) + ": the checkpoint state is not JSON");
    try {
      as_of_ms_ = j.value("time", std::int64_t{0});
      engine = j["engine"];
      Status s = loader.engine_state(engine);
      if (!s.ok()) return s;
      // Users, in index order.
      for (const auto& seg : j["users"]) {
        std::uint64_t st = seg["t"].get<std::uint64_t>();
        auto r = table(st);
        if (!r.ok()) return r.status();
        auto ub = (*r)->read("users");
        if (!ub.ok()) return ub.status();
        std::shared_ptr<const storage::FileBuffer> owner = std::move(ub).value();
        std::string_view in = owner->view();
        std::uint64_t count, first;
        std::string where = table_path(st) + " users";
        if (!get_le(in, count) || !get_le(in, first) || count > (in.size() / 10)) return Status::IoError(where + ": truncated");
        const char* base = owner->data() + 16;
        std::uint64_t bucket_bytes = (count * 2 + 7) / 8 * 8;
        std::uint64_t header = 16 + (count + 1) * 8 + bucket_bytes;
        if (header > owner->size()) return Status::IoError(where + ": truncated");
        const char* blob = owner->data() + header;
        std::uint64_t blob_size = owner->size() - header;
        for (std::uint64_t i = 0; i < count; ++i) {
          std::uint64_t a, b;
          std::uint16_t bucket;
          std::memcpy(&a, base + i * 8, 8);
          std::memcpy(&b, base + (i + 1) * 8, 8);
          std::memcpy(&bucket, base + (count + 1) * 8 + i * 2, 2);
          if (a > b || b > blob_size || b - a == 0 || b - a > 0xffff) return Status::IoError(where + ": a damaged id");
          loader.user(owner, std::string_view(blob + a, b - a), bucket);
        }
        user_segments_.emplace_back(st, count);
      }
      for (const auto& h : j["hashes"]) {
        hash_segments_.push_back(h["t"].get<std::uint64_t>());
        persisted_hashes_ += h["n"].get<std::uint64_t>();
        hash_counts_[h["t"].get<std::uint64_t>()] = h["n"].get<std::uint64_t>();
      }
      for (const auto& s2 : j["sources"]) {
        SourceImage img;
        img.key = s2["key"].get<std::string>();
        img.records = s2["records"].get<std::uint64_t>();
        img.last_sent = s2["last_sent"].get<std::int64_t>();
        img.archived = s2["archived"].get<bool>();
        img.deleted = s2.value("deleted", false);
        img.unpurged = s2.value("unpurged", std::uint64_t{0});
        img.resident = !state->archives.count(img.key);
        sources_[img.key] = img;
        loader.source(img);
      }
      auto columns = j["columns"];
      for (const auto& [id, loc] : state->restored_columns) columns[id] = {{"t", loc.table}, {"s", loc.section}};
      for (const auto& [id, loc] : columns.items()) {
        ColumnImage c;
        if (!parse_column_id(id, c)) return Status::IoError(table_path(t) + ": a bad column name in the checkpoint");
        std::uint64_t ct = loc["t"].get<std::uint64_t>();
        std::string section = loc["s"].get<std::string>();
        columns_[id] = {ct, section, c.kind, c.source, c.key};
        // An archived source's columns are in its archive file (a checkpoint
        // taken before the archive may still list them).
        if (c.kind == ColumnImage::Kind::kFact && state->archives.count(c.source) && !state->restored_columns.count(id))
          continue;
        auto r = table(ct);
        if (!r.ok()) return r.status();
        auto cb = (*r)->read(section);
        if (!cb.ok()) return cb.status();
        s = load_into(c, std::move(cb).value(), table_path(ct) + " column " + section);
        if (!s.ok()) return s;
        s = loader.column(c);
        if (!s.ok()) return s;
      }
      for (const auto& [key, at] : j["analytics"].items()) {
        std::uint64_t at_table = at.get<std::uint64_t>();
        auto r = table(at_table);
        if (!r.ok()) return r.status();
        auto ab = (*r)->read("a/" + key);
        if (!ab.ok()) return ab.status();
        auto a = parse_analytics((*ab)->view(), table_path(at_table) + " analytics " + key);
        if (!a.ok()) return a.status();
        analytics_[key] = at_table;
        loader.analytics(key, std::move(a).value());
      }
    } catch (const nlohmann::json::exception& e) {
      return Status::IoError(table_path(t) + ": the checkpoint state does not read: " + e.what());
    }
    covered_ = state->covered;
  }
  // The log after the checkpoint (all of it, raw-event blocks included, when
  // there is none or for a rebuild).
  auto tail = read_log_tail(*env_, dir_ + "/wal", from, dir_ + "/events", state->event_blocks);
  if (!tail.ok()) return tail.status();
  for (const auto& r : tail->records) {
    Status s = loader.record(r.type, r.payload, r.end);
    if (!s.ok()) return s;
  }
  if (read_only_) return Status::Ok();
  auto wal = Wal::Open(*env_, dir_ + "/wal", *tail, state->covered.file + 1);
  if (!wal.ok()) return wal.status();
  wal_ = std::move(wal).value();
  auto m = Manifest::Create(*env_, dir_, *state);
  if (!m.ok()) return m.status();
  manifest_ = std::move(m).value();
  if (rebuild) return Status::Ok();  // the old checkpoint stays until the new one is written
  return collect_garbage();
}

Status DataDir::load_hashes(HashSet128& into) {
  std::lock_guard lock(files_mu_);
  for (std::uint64_t t : hash_segments_) {
    auto r = table(t);
    if (!r.ok()) return r.status();
    auto hb = (*r)->read("hashes");
    if (!hb.ok()) return hb.status();
    std::string_view in = (*hb)->view();
    std::uint64_t count;
    if (!get_le(in, count) || in.size() != count * 16) return Status::IoError(table_path(t) + ": damaged hashes");
    into.reserve(into.size() + count);
    for (std::uint64_t i = 0; i < count; ++i) {
      HashSet128::Key k;
      std::memcpy(&k.a, in.data() + i * 16, 8);
      std::memcpy(&k.b, in.data() + i * 16 + 8, 8);
      into.insert(k);
    }
  }
  return Status::Ok();
}

bool is_legacy_layout(storage::Env& env, const std::string& dir) {
  if (!env.exists(dir) || env.exists(dir + "/" + kFormatFile)) return false;
  auto names = env.list(dir);
  if (!names.ok()) return false;
  for (const auto& n : *names)
    if (n == "IDENTITY" || n.rfind("OPTIONS-", 0) == 0 || (n.size() > 4 && n.substr(n.size() - 4) == ".sst") ||
        n == "CURRENT")
      return true;
  return false;
}

Status DataDir::log(RecordType type, std::string_view payload) {
  if (!wal_) return Status::Failed("the log is not open (recovery did not finish)");
  // Files of about 64 MiB: a checkpoint seals the ones it covers.
  if (wal_->bytes_in_current_file() > (64ull << 20)) {
    auto rolled = wal_->roll();
    if (!rolled.ok()) return rolled.status();
  }
  return wal_->append(type, payload);
}
Status DataDir::sync() { return wal_ ? wal_->sync() : Status::Ok(); }

std::uint64_t DataDir::log_bytes_since_checkpoint() const {
  if (!wal_) return 0;
  std::uint64_t files = wal_->current_file() > covered_.file ? wal_->current_file() - covered_.file : 0;
  // Roughly: full files since the checkpoint at their roll size, plus the current one.
  return files * (64ull << 20) + wal_->bytes_in_current_file();
}

Result<LogPosition> DataDir::prepare_checkpoint() {
  if (!wal_) return Status::Failed("the log is not open (recovery did not finish)");
  Status s = wal_->sync();
  if (!s.ok()) return s;
  return wal_->roll();
}

bool DataDir::full_checkpoint_due() const {
  std::lock_guard lock(files_mu_);
  return checkpoints_since_full_ >= 16 || user_segments_.size() > 32;
}

Status DataDir::write_checkpoint(const BuilderImage& image, const nlohmann::json& engine_state, LogPosition covered,
                                 bool full) {
  std::lock_guard lock(files_mu_);
  std::uint64_t t = manifest_->take_file_number();
  auto w = storage::TableWriter::Create(*env_, table_path(t));
  if (!w.ok()) return w.status();
  Status s;
  if (image.end_user > image.first_user) {
    s = (*w)->add("users", serialize_users(*image.users, image.first_user, image.end_user));
    if (!s.ok()) return s;
    if (full) user_segments_.clear();
    user_segments_.emplace_back(t, image.end_user - image.first_user);
  } else if (full) {
    user_segments_.clear();
  }
  if (!image.new_hashes.empty()) {
    std::string h;
    put_le<std::uint64_t>(h, image.new_hashes.size());
    for (const auto& k : image.new_hashes) put_le(h, k.a), put_le(h, k.b);
    s = (*w)->add("hashes", h);
    if (!s.ok()) return s;
    // A full capture holds every hash (when the set was loaded): the older segments go.
    if (image.hashes_complete) hash_segments_.clear(), hash_counts_.clear(), persisted_hashes_ = 0;
    hash_segments_.push_back(t);
    hash_counts_[t] = image.new_hashes.size();
    persisted_hashes_ += image.new_hashes.size();
  }
  for (const auto& c : image.columns) {
    std::string id = c.id();
    s = (*w)->add(id, serialize(c));
    if (!s.ok()) return s;
    columns_[id] = {t, id, c.kind, c.source, c.key};
  }
  for (const auto& [key, a] : image.analytics) {
    s = (*w)->add("a/" + key, serialize_analytics(a));
    if (!s.ok()) return s;
    analytics_[key] = t;
  }
  for (const auto& src : image.sources) sources_[src.key] = src;
  // The checkpoint's state: the engine's part and this directory's.
  nlohmann::json j;
  j["format"] = 2;
  j["time"] = now_ms();
  j["covered"] = {{"file", covered.file}, {"offset", covered.offset}};
  j["engine"] = engine_state;
  j["users"] = nlohmann::json::array();
  for (const auto& [st, n] : user_segments_) j["users"].push_back({{"t", st}, {"n", n}});
  j["hashes"] = nlohmann::json::array();
  for (std::uint64_t ht : hash_segments_) j["hashes"].push_back({{"t", ht}, {"n", hash_counts_[ht]}});
  j["columns"] = nlohmann::json::object();
  for (const auto& [id, e] : columns_) j["columns"][id] = {{"t", e.table}, {"s", e.section}};
  j["analytics"] = nlohmann::json::object();
  for (const auto& [key, at] : analytics_) j["analytics"][key] = at;
  j["sources"] = nlohmann::json::array();
  for (const auto& [key, src] : sources_)
    j["sources"].push_back({{"key", key}, {"records", src.records}, {"last_sent", src.last_sent}, {"archived", src.archived},
                               {"deleted", src.deleted}, {"unpurged", src.unpurged}});
  s = (*w)->add("state", j.dump());
  if (s.ok()) s = (*w)->finish();
  if (s.ok()) s = env_->sync_dir(dir_ + "/tables");
  if (!s.ok()) {
    storage::remove_unreferenced(*env_, table_path(t));
    return s;
  }
  nlohmann::json archives = nlohmann::json::object();
  for (const auto& [k, v] : manifest_->state().archives) archives[k] = v;
  s = manifest_->apply({{"checkpoint", t}, {"covered", {{"file", covered.file}, {"offset", covered.offset}}},
                        {"next_file", manifest_->state().next_file}, {"archives", archives}});
  if (!s.ok()) return s;
  covered_ = covered;
  as_of_ms_ = j["time"].get<std::int64_t>();
  checkpoints_since_full_ = full ? 0 : checkpoints_since_full_ + 1;
  s = seal_log_files(covered);
  if (!s.ok()) return s;
  return collect_garbage();
}

Status DataDir::seal_log_files(LogPosition covered) {
  // Every log file before the covered position is in the checkpoint: keep its
  // raw events compressed in events/, then drop the file.
  auto files = wal_files(*env_, dir_ + "/wal");
  if (!files.ok()) return files.status();
  for (std::uint64_t n : *files) {
    if (n >= covered.file) break;
    std::string path = dir_ + "/wal/" + wal_file_name(n);
    if (!manifest_->state().event_blocks.count(n)) {
      auto bytes = env_->read_file(path);
      if (!bytes.ok()) return bytes.status();
      auto tw = storage::TableWriter::Create(*env_, dir_ + "/events/" + numbered(n, ".rte"));
      if (!tw.ok()) return tw.status();
      Status s = (*tw)->add("log", (*bytes)->view(), /*compress=*/true);
      if (s.ok()) s = (*tw)->finish();
      if (s.ok()) s = env_->sync_dir(dir_ + "/events");
      if (s.ok()) s = manifest_->apply({{"event_block", n}});
      if (!s.ok()) return s;
    }
    Status s = env_->remove(path);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status DataDir::collect_garbage() {
  // Tables nothing names any more, archive files of no source, temporaries.
  std::set<std::uint64_t> live;
  if (manifest_->state().checkpoint) live.insert(*manifest_->state().checkpoint);
  for (const auto& [id, e] : columns_) live.insert(e.table);
  for (const auto& [k, t] : analytics_) live.insert(t);
  for (const auto& [t, n] : user_segments_) live.insert(t);
  for (std::uint64_t t : hash_segments_) live.insert(t);
  for (const auto& [id, loc] : manifest_->state().restored_columns) live.insert(loc.table);
  auto names = env_->list(dir_ + "/tables");
  if (!names.ok()) return names.status();
  for (const auto& n : *names) {
    bool table = n.size() == 24 && n.substr(20) == ".rtt";
    if (table && live.count(std::stoull(n.substr(0, 20)))) continue;
    if (!table && n.find(".tmp") == std::string::npos) continue;
    if (in_progress_.count("tables/" + n)) continue;
    readers_.erase(table ? std::stoull(n.substr(0, 20)) : 0);
    storage::remove_unreferenced(*env_, dir_ + "/tables/" + n);
  }
  std::set<std::string> archive_files;
  for (const auto& [k, f] : manifest_->state().archives) archive_files.insert(f);
  auto arch = env_->list(dir_ + "/archive");
  if (!arch.ok()) return arch.status();
  for (const auto& n : *arch)
    if (!archive_files.count(n) && !in_progress_.count("archive/" + n)) storage::remove_unreferenced(*env_, dir_ + "/archive/" + n);
  // A block a purge did not finish rewriting.
  auto blocks = env_->list(dir_ + "/events");
  if (!blocks.ok()) return blocks.status();
  for (const auto& n : *blocks)
    if (n.size() > 4 && n.substr(n.size() - 4) == ".tmp" && !in_progress_.count("events/" + n))
      storage::remove_unreferenced(*env_, dir_ + "/events/" + n);
  return Status::Ok();
}

// --- the raw-event blocks ---------------------------------------------------------

std::vector<std::uint64_t> DataDir::event_blocks() const {
  std::lock_guard lock(files_mu_);
  const auto& blocks = manifest_ ? manifest_->state().event_blocks : read_state_.event_blocks;
  return {blocks.begin(), blocks.end()};
}

Result<std::shared_ptr<storage::FileBuffer>> DataDir::read_event_block(std::uint64_t n) {
  std::string path = dir_ + "/events/" + numbered(n, ".rte");
  auto table = storage::TableReader::Open(*env_, path);
  if (!table.ok()) return table.status();
  return (*table)->read("log");
}

Status DataDir::replace_event_block(std::uint64_t n, std::string_view log_bytes) {
  std::string path = dir_ + "/events/" + numbered(n, ".rte");
  std::string tmp = path + ".tmp";
  {
    std::lock_guard lock(files_mu_);
    in_progress_.insert("events/" + numbered(n, ".rte.tmp"));
  }
  Status s;
  {
    auto w = storage::TableWriter::Create(*env_, tmp);
    s = w.ok() ? (*w)->add("log", log_bytes, /*compress=*/true) : w.status();
    if (s.ok()) s = (*w)->finish();
  }
  if (s.ok()) s = env_->rename(tmp, path);
  if (s.ok()) s = env_->sync_dir(dir_ + "/events");
  if (!s.ok()) storage::remove_unreferenced(*env_, tmp);
  std::lock_guard lock(files_mu_);
  in_progress_.erase("events/" + numbered(n, ".rte.tmp"));
  return s;
}

// --- long-term storage ------------------------------------------------------------

Status DataDir::archive_source(const std::string& key, const std::vector<ColumnImage>& columns, const Roaring& users,
                               const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  std::uint64_t n;
  std::string name;
  {
    std::lock_guard lock(files_mu_);
    n = manifest_->take_file_number();
    name = hex(key) + "-" + std::to_string(n) + ".rta";
    in_progress_.insert("archive/" + name);
  }
  struct Done {
    DataDir& d;
    std::string f;
    ~Done() {
      std::lock_guard lock(d.files_mu_);
      d.in_progress_.erase(f);
    }
  } release_when_done{*this, "archive/" + name};
  std::string path = dir_ + "/archive/" + name;
  auto w = storage::TableWriter::Create(*env_, path);
  if (!w.ok()) return w.status();
  std::uint64_t total = columns.size(), done = 0;
  for (const auto& c : columns) {
    Status s = (*w)->add(c.id(), serialize(c), /*compress=*/true);
    if (!s.ok()) {
      storage::remove_unreferenced(*env_, path);
      return s;
    }
    if (progress) progress(++done, total);
  }
  Status s = (*w)->add("users", serialize_roaring(users), true);
  if (s.ok()) s = (*w)->finish();
  if (s.ok()) s = env_->sync_dir(dir_ + "/archive");
  if (!s.ok()) {
    storage::remove_unreferenced(*env_, path);
    return s;
  }
  std::lock_guard lock(files_mu_);
  std::string old;
  auto it = manifest_->state().archives.find(key);
  if (it != manifest_->state().archives.end()) old = it->second;
  s = manifest_->apply({{"archive", key}, {"file", name}, {"next_file", manifest_->state().next_file}});
  if (!s.ok()) return s;
  for (auto c = columns_.begin(); c != columns_.end();)
    c = c->second.kind == ColumnImage::Kind::kFact && c->second.source == key ? columns_.erase(c) : std::next(c);
  if (!old.empty() && old != name) storage::remove_unreferenced(*env_, dir_ + "/archive/" + old);
  return Status::Ok();
}

bool DataDir::archived(const std::string& key) const {
  std::lock_guard lock(files_mu_);
  const ManifestState& st = manifest_ ? manifest_->state() : read_state_;
  return st.archives.count(key) > 0;
}

std::vector<std::string> DataDir::archived_sources() const {
  std::lock_guard lock(files_mu_);
  const ManifestState& st = manifest_ ? manifest_->state() : read_state_;
  std::vector<std::string> out;
  for (const auto& [k, f] : st.archives) out.push_back(k);
  return out;
}

Result<std::vector<ColumnImage>> DataDir::load_archive(const std::string& key) {
  std::string path;
  {
    std::lock_guard lock(files_mu_);
    const ManifestState& st = manifest_ ? manifest_->state() : read_state_;
    auto it = st.archives.find(key);
    if (it == st.archives.end()) return Status::NotFound(key + " has no archive file");
    path = dir_ + "/archive/" + it->second;
  }
  auto r = storage::TableReader::Open(*env_, path);
  if (!r.ok()) return r.status();
  std::vector<ColumnImage> out;
  for (const auto& sec : (*r)->sections()) {
    if (sec.name == "users") continue;
    ColumnImage c;
    if (!parse_column_id(sec.name, c)) return Status::IoError(path + ": a bad section '" + sec.name + "'");
    auto b = (*r)->read(sec);
    if (!b.ok()) return b.status();
    Status s = load_into(c, std::move(b).value(), path + " " + sec.name);
    if (!s.ok()) return s;
    out.push_back(std::move(c));
  }
  return out;
}

Result<Roaring> DataDir::archived_users(const std::string& key) {
  std::string path;
  {
    std::lock_guard lock(files_mu_);
    const ManifestState& st = manifest_ ? manifest_->state() : read_state_;
    auto it = st.archives.find(key);
    if (it == st.archives.end()) return Roaring();
    path = dir_ + "/archive/" + it->second;
  }
  auto r = storage::TableReader::Open(*env_, path);
  if (!r.ok()) return r.status();
  auto b = (*r)->read("users");
  if (!b.ok()) return b.status();
  try {
    return Roaring::readSafe((*b)->data(), (*b)->size());
  } catch (const std::exception&) {
    return Status::IoError(path + ": a damaged users bitmap");
  }
}

Status DataDir::unarchive_source(const std::string& key, const std::vector<ColumnImage>& columns,
                                 const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  std::uint64_t t;
  {
    std::lock_guard lock(files_mu_);
    t = manifest_->take_file_number();
    in_progress_.insert("tables/" + numbered(t, ".rtt"));
  }
  struct Done {
    DataDir& d;
    std::string f;
    ~Done() {
      std::lock_guard lock(d.files_mu_);
      d.in_progress_.erase(f);
    }
  } release_when_done{*this, "tables/" + numbered(t, ".rtt")};
  auto w = storage::TableWriter::Create(*env_, table_path(t));
  if (!w.ok()) return w.status();
  nlohmann::json ids = nlohmann::json::object();
  std::uint64_t done = 0;
  for (const auto& c : columns) {
    Status s = (*w)->add(c.id(), serialize(c));
    if (!s.ok()) {
      storage::remove_unreferenced(*env_, table_path(t));
      return s;
    }
    ids[c.id()] = c.id();
    if (progress) progress(++done, columns.size());
  }
  Status s = (*w)->finish();
  if (s.ok()) s = env_->sync_dir(dir_ + "/tables");
  if (!s.ok()) {
    storage::remove_unreferenced(*env_, table_path(t));
    return s;
  }
  std::lock_guard lock(files_mu_);
  std::string old;
  auto it = manifest_->state().archives.find(key);
  if (it != manifest_->state().archives.end()) old = it->second;
  s = manifest_->apply({{"unarchive", key}, {"table", t}, {"columns", ids}, {"next_file", manifest_->state().next_file}});
  if (!s.ok()) return s;
  for (const auto& c : columns) columns_[c.id()] = {t, c.id(), c.kind, c.source, c.key};
  if (!old.empty()) storage::remove_unreferenced(*env_, dir_ + "/archive/" + old);
  return Status::Ok();
}

Status DataDir::drop_archive(const std::string& key) {
  std::lock_guard lock(files_mu_);
  auto it = manifest_->state().archives.find(key);
  if (it == manifest_->state().archives.end()) return Status::Ok();
  std::string old = it->second;
  Status s = manifest_->apply({{"drop_archive", key}});
  if (!s.ok()) return s;
  storage::remove_unreferenced(*env_, dir_ + "/archive/" + old);
  return Status::Ok();
}

// --- inspection -------------------------------------------------------------------

std::vector<StoreProblem> DataDir::check(const CheckProgress& on_progress) {
  std::vector<StoreProblem> out;
  auto add = [&](const Status& s, const std::string& file) {
    if (!s.ok()) out.push_back({file, 0, s.message()});
  };
  // One consistent view: moves wait until the check is done.
  std::lock_guard lock(files_mu_);
  auto on_disk = Manifest::Read(*env_, dir_);
  if (!on_disk.ok()) {
    add(on_disk.status(), dir_ + "/RETARGET-MANIFEST");
    return out;
  }
  const ManifestState* state = manifest_ ? &manifest_->state() : &read_state_;
  // Every file is checked on its own, on all cores; the problems are reported
  // in the order of the files (tables, archives, event blocks, log).
  enum class Kind { kTable, kEventBlock, kLog };
  struct Job {
    std::string path;
    Kind kind;
    bool last_log = false;  // the live log file: a torn tail is not a problem
  };
  std::vector<Job> jobs;
  std::set<std::uint64_t> tables;
  for (const auto& [id, e] : columns_) tables.insert(e.table);
  for (const auto& [k, t] : analytics_) tables.insert(t);
  for (const auto& [t, n] : user_segments_) tables.insert(t);
  for (std::uint64_t t : hash_segments_) tables.insert(t);
  if (state->checkpoint) tables.insert(*state->checkpoint);
  for (const auto& [id, loc] : state->restored_columns) tables.insert(loc.table);
  for (std::uint64_t t : tables) jobs.push_back({table_path(t), Kind::kTable});
  for (const auto& [k, f] : state->archives) jobs.push_back({dir_ + "/archive/" + f, Kind::kTable});
  for (std::uint64_t n : state->event_blocks) jobs.push_back({dir_ + "/events/" + numbered(n, ".rte"), Kind::kEventBlock});
  auto files = wal_files(*env_, dir_ + "/wal");
  if (files.ok())
    for (std::size_t i = 0; i < files->size(); ++i)
      jobs.push_back({dir_ + "/wal/" + wal_file_name((*files)[i]), Kind::kLog, i + 1 == files->size()});

  std::vector<std::vector<StoreProblem>> found(jobs.size());
  std::vector<std::uint64_t> sizes(jobs.size(), 0);
  std::uint64_t total_bytes = 0;
  if (on_progress)
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      auto z = env_->file_size(jobs[i].path);  // a missing file is the check's to report, not this
      sizes[i] = z.ok() ? *z : 0;
      total_bytes += sizes[i];
    }
  std::atomic<std::uint64_t> checked_bytes{0};
  auto check_one = [&](std::size_t i) {
    const Job& job = jobs[i];
    std::vector<StoreProblem>& problems = found[i];
    auto add_here = [&](const Status& s) {
      if (!s.ok()) problems.push_back({job.path, 0, s.message()});
    };
    if (job.kind == Kind::kLog) {
      auto b = env_->read_file(job.path);
      if (!b.ok()) return add_here(b.status());
      auto c = storage::parse_log((*b)->view(), job.path, job.last_log);
      if (c.corrupt) problems.push_back({job.path, c.corrupt_offset, c.problem});
      return;
    }
    auto r = storage::TableReader::Open(*env_, job.path);
    if (!r.ok()) return add_here(r.status());
    if (job.kind == Kind::kTable) return add_here((*r)->verify());
    auto b = (*r)->read("log");  // checks the section's checksum
    if (!b.ok()) return add_here(b.status());
    auto c = storage::parse_log((*b)->view(), job.path, /*last=*/false);  // and each record's
    if (c.corrupt) problems.push_back({job.path, c.corrupt_offset, c.problem});
  };
  // Plain threads taking the next file (the engine's task arena is not ours
  // to use here, and the files are few and large).
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> finished{0};
  auto worker = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      check_one(i);
      checked_bytes += sizes[i];
      ++finished;
    }
  };
  std::size_t threads = std::min<std::size_t>({std::max(1u, std::thread::hardware_concurrency()), jobs.size(), 8});
  std::vector<std::thread> pool;
  // With a progress callback every worker is a pool thread and this one reports.
  for (std::size_t t = on_progress ? 0 : 1; t < threads; ++t) pool.emplace_back(worker);
  if (!on_progress) {
    worker();
  } else {
    while (finished.load() < jobs.size()) {
      on_progress(checked_bytes.load(), total_bytes);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    on_progress(checked_bytes.load(), total_bytes);
  }
  for (auto& t : pool) t.join();
  for (auto& problems : found) out.insert(out.end(), problems.begin(), problems.end());
  return out;
}

DataDir::Sizes DataDir::sizes() {
  Sizes s;
  auto sum = [&](const std::string& sub) {
    std::uint64_t n = 0;
    auto names = env_->list(dir_ + "/" + sub);
    if (names.ok())
      for (const auto& f : *names) {
        auto z = env_->file_size(dir_ + "/" + sub + "/" + f);
        if (z.ok()) n += *z;
      }
    return n;
  };
  s.tables = sum("tables");
  s.archive = sum("archive");
  s.events = sum("events");
  s.wal = sum("wal");
  return s;
}

}  // namespace retarget::store
