#include "store/manifest.hpp"

#include <cstdio>

namespace retarget::store {
namespace {

constexpr const char* kCurrent = "RETARGET-CURRENT";
constexpr std::uint8_t kEdit = 1;

std::string manifest_name(std::uint64_t n) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "RETARGET-MANIFEST-%06llu", static_cast<unsigned long long>(n));
  return buf;
}

}  // namespace

Status apply_edit(ManifestState& s, const nlohmann::json& e) {
  try {
    if (e.contains("snapshot")) {
      const auto& j = e["snapshot"];
      s = ManifestState{};
      s.next_file = j.value("next_file", std::uint64_t{1});
      if (j.contains("checkpoint") && !j["checkpoint"].is_null()) s.checkpoint = j["checkpoint"].get<std::uint64_t>();
      s.covered = {j["covered"].value("file", std::uint64_t{0}), j["covered"].value("offset", std::uint64_t{0})};
      for (const auto& [k, v] : j["archives"].items()) s.archives[k] = v.get<std::string>();
      for (const auto& [k, v] : j["restored_columns"].items())
        s.restored_columns[k] = {v["table"].get<std::uint64_t>(), v["section"].get<std::string>()};
      for (const auto& b : j["event_blocks"]) s.event_blocks.insert(b.get<std::uint64_t>());
      return Status::Ok();
    }
    if (e.contains("next_file")) s.next_file = std::max(s.next_file, e["next_file"].get<std::uint64_t>());
    if (e.contains("checkpoint")) {
      s.checkpoint = e["checkpoint"].get<std::uint64_t>();
      s.covered = {e["covered"]["file"].get<std::uint64_t>(), e["covered"]["offset"].get<std::uint64_t>()};
      // A checkpoint holds every live column, restored ones included.
      s.restored_columns.clear();
      if (e.contains("archives")) {
        s.archives.clear();
        for (const auto& [k, v] : e["archives"].items()) s.archives[k] = v.get<std::string>();
      }
    }
    if (e.contains("archive")) s.archives[e["archive"].get<std::string>()] = e["file"].get<std::string>();
    if (e.contains("unarchive")) {
      std::string source = e["unarchive"].get<std::string>();
      s.archives.erase(source);
      std::uint64_t table = e["table"].get<std::uint64_t>();
      for (const auto& [id, section] : e["columns"].items()) s.restored_columns[id] = {table, section.get<std::string>()};
    }
    if (e.contains("drop_archive")) s.archives.erase(e["drop_archive"].get<std::string>());
    if (e.contains("event_block")) s.event_blocks.insert(e["event_block"].get<std::uint64_t>());
  } catch (const std::exception& ex) {
    return Status::IoError(std::string("a manifest edit does not read: ") + ex.what());
  }
  return Status::Ok();
}

nlohmann::json snapshot_edit(const ManifestState& s) {
  nlohmann::json j;
  j["next_file"] = s.next_file;
  j["checkpoint"] = s.checkpoint ? nlohmann::json(*s.checkpoint) : nlohmann::json(nullptr);
  j["covered"] = {{"file", s.covered.file}, {"offset", s.covered.offset}};
  j["archives"] = nlohmann::json::object();
  for (const auto& [k, v] : s.archives) j["archives"][k] = v;
  j["restored_columns"] = nlohmann::json::object();
  for (const auto& [k, v] : s.restored_columns) j["restored_columns"][k] = {{"table", v.table}, {"section", v.section}};
  j["event_blocks"] = s.event_blocks;
  return {{"snapshot", j}};
}

Result<ManifestState> Manifest::Read(storage::Env& env, const std::string& dir) {
  ManifestState state;
  std::string current = dir + "/" + kCurrent;
  if (!env.exists(current)) return state;
  auto name = env.read_file(current);
  if (!name.ok()) return name.status();
  std::string n((*name)->view());
  while (!n.empty() && (n.back() == '\n' || n.back() == '\r')) n.pop_back();
  if (n.rfind("RETARGET-MANIFEST-", 0) != 0 || n.find('/') != std::string::npos)
    return Status::IoError(current + ": does not name a manifest ('" + n + "')");
  std::string path = dir + "/" + n;
  auto bytes = env.read_file(path);
  if (!bytes.ok()) return bytes.status();
  // The newest manifest: a torn final edit (a crash while appending) is dropped.
  storage::LogContents c = storage::parse_log((*bytes)->view(), path, /*last=*/true);
  if (c.corrupt) return Status::IoError(c.problem);
  for (const auto& r : c.records) {
    if (r.type != kEdit) return Status::IoError(path + ": an unknown record type at byte " + std::to_string(r.offset));
    auto edit = nlohmann::json::parse(r.payload, nullptr, false);
    if (edit.is_discarded())
      return Status::IoError(path + ": the edit at byte " + std::to_string(r.offset) + " is not JSON");
    Status s = apply_edit(state, edit);
    if (!s.ok()) return Status::IoError(path + " at byte " + std::to_string(r.offset) + ": " + s.message());
  }
  return state;
}

Result<std::unique_ptr<Manifest>> Manifest::Create(storage::Env& env, const std::string& dir,
                                                   const ManifestState& state) {
  std::unique_ptr<Manifest> m(new Manifest(dir));
  m->state_ = state;
  // A new number, after any manifest already in the directory.
  std::uint64_t n = 1;
  auto names = env.list(dir);
  if (!names.ok()) return names.status();
  std::vector<std::string> old;
  for (const auto& f : *names)
    if (f.rfind("RETARGET-MANIFEST-", 0) == 0) {
      old.push_back(f);
      n = std::max<std::uint64_t>(n, std::strtoull(f.c_str() + 18, nullptr, 10) + 1);
    }
  m->number_ = n;
  auto w = storage::LogWriter::Create(env, dir + "/" + manifest_name(n), n);
  if (!w.ok()) return w.status();
  m->writer_ = std::move(w).value();
  Status s = m->writer_->add(kEdit, snapshot_edit(state).dump());
  if (s.ok()) s = m->writer_->sync();
  if (s.ok()) s = env.sync_dir(dir);
  if (s.ok()) s = storage::write_file_atomically(env, dir + "/" + kCurrent, manifest_name(n) + "\n");
  if (!s.ok()) return s;
  for (const auto& f : old) storage::remove_unreferenced(env, dir + "/" + f);
  return m;
}

Status Manifest::apply(const nlohmann::json& edit) {
  Status s = writer_->add(kEdit, edit.dump());
  if (s.ok()) s = writer_->sync();
  if (!s.ok()) return s;
  return apply_edit(state_, edit);
}

}  // namespace retarget::store
