// The legacy purge (lifecycle.md, the legacy policy; docs/lifecycle.md): a
// source deleted under `policy: legacy` is hidden at once (its facts are
// erased from memory, and the checkpoint no longer holds them); the purge
// then takes its events out of the raw-event blocks, so that nothing on disk
// holds its interaction data any more and `store rebuild` cannot bring it
// back. Each block that held such events is rewritten, atomically, without
// them and with a residue record (index/residue.hpp) that keeps what the
// spec keeps: profile summaries, analytics, the events' content hashes.
//
// It runs after a checkpoint, over the blocks that checkpoint sealed, outside
// the writer lock: ingest and readers go on. A crash half-way leaves some
// blocks rewritten and some not, each a consistent block; the next
// checkpoint's purge does the rest.
#include "engine/engine_impl.hpp"
#include "index/residue.hpp"
#include "storage/record_log.hpp"
#include "store/event_codec.hpp"

namespace retarget {

using nlohmann::json;

Status Engine::Impl::purge_deleted(const std::map<std::string, std::uint64_t>& unpurged, store::LogPosition covered) {
  if (unpurged.empty() || !data) return Status::Ok();
  // What is deleted of a source: its events before its last deletion (a
  // deleted source that sent again was revived; its events since are live).
  using Position = std::pair<std::uint64_t, std::size_t>;  // block, record
  std::map<std::string, Position> last_deletion;
  auto read_block = [&](std::uint64_t n, std::shared_ptr<storage::FileBuffer>& owner) -> Result<storage::LogContents> {
    auto bytes = data->read_event_block(n);
    if (!bytes.ok()) return bytes.status();
    owner = std::move(bytes).value();
    storage::LogContents log = storage::parse_log(owner->view(), "raw-event block " + std::to_string(n), false);
    if (log.corrupt) return Status::IoError(log.problem);
    return log;
  };
  for (std::uint64_t n : data->event_blocks()) {
    if (n >= covered.file) break;
    std::shared_ptr<storage::FileBuffer> owner;
    auto log = read_block(n, owner);
    if (!log.ok()) return log.status();
    for (std::size_t i = 0; i < log->records.size(); ++i) {
      if (static_cast<store::RecordType>(log->records[i].type) != store::RecordType::kLifecycle) continue;
      auto j = json::parse(log->records[i].payload, nullptr, false);
      if (!j.is_object() || j.value("tier", "") != "deleted") continue;
      std::string key = j.value("source", "");
      if (unpurged.count(key)) last_deletion[key] = {n, i};
    }
  }
  // The catalog each block's events were ingested under (canvas control
  // groups count in analytics and summaries): replayed from the blocks.
  Catalog history;
  for (std::uint64_t n : data->event_blocks()) {
    if (n >= covered.file) break;
    std::shared_ptr<storage::FileBuffer> owner;
    auto read = read_block(n, owner);
    if (!read.ok()) return read.status();
    storage::LogContents& log = *read;
    std::string where = "raw-event block " + std::to_string(n);
    std::map<std::string, ResidueBuilder> residues;
    std::vector<std::string> kept_batches(log.records.size());
    std::vector<bool> rewritten(log.records.size(), false), dropped(log.records.size(), false);
    for (std::size_t i = 0; i < log.records.size(); ++i) {
      const auto& r = log.records[i];
      auto type = static_cast<store::RecordType>(r.type);
      if (type == store::RecordType::kMeta) {
        auto op = json::parse(r.payload, nullptr, false);
        Diagnostics d;
        if (op.is_object()) apply_catalog_change(history, op, d);
        continue;
      }
      if (type != store::RecordType::kEvents) continue;
      std::int64_t logged_at = 0;
      std::vector<Event> keep;
      std::vector<HashSet128::Key> keep_hashes;
      bool any = false;
      std::string key;
      bool ok = decode_event_batch(r.payload, logged_at, [&](const Event& e, const HashSet128::Key& h) {
        if (is_interaction_event(e.type)) {
          key = source_key(e.source_kind, e.source);
          auto d = last_deletion.find(key);
          if (d != last_deletion.end() && Position{n, i} < d->second) {
            residues.try_emplace(key, key).first->second.add(e, h, history);
            any = true;
            return;
          }
        }
        keep.push_back(e);
        keep_hashes.push_back(h);
      });
      if (!ok) return Status::IoError(where + ": an events record does not decode");
      if (!any) continue;
      rewritten[i] = true;
      if (keep.empty()) dropped[i] = true;
      else encode_event_batch(keep, keep_hashes, logged_at, kept_batches[i]);
    }
    if (residues.empty()) continue;
    // The block again: every record as it was, the events batches without
    // the deleted sources' events, their residues at the end.
    std::vector<std::string> residue_bytes;
    for (const auto& [key, rb] : residues) residue_bytes.push_back(encode_residue(rb.residue()));
    std::vector<std::pair<std::uint8_t, std::string_view>> records;
    for (std::size_t i = 0; i < log.records.size(); ++i) {
      if (dropped[i]) continue;
      records.emplace_back(log.records[i].type, rewritten[i] ? std::string_view(kept_batches[i]) : log.records[i].payload);
    }
    for (const auto& b : residue_bytes) records.emplace_back(static_cast<std::uint8_t>(store::RecordType::kResidue), b);
    Status s = data->replace_event_block(n, storage::encode_log(log.number, records));
    if (!s.ok()) return s;
  }
  // Every event of these sources up to the checkpoint is out of the blocks now.
  MutexLock lock(writer_mu);
  for (const auto& [key, n] : unpurged) builder.purged(key, n);
  return Status::Ok();
}

}  // namespace retarget
