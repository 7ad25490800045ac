// The index builder: applies accepted events to columns and publishes
// immutable Index snapshots.
//
//   IndexBuilder b;
//   b.add(event, catalog);               // false: a duplicate (idempotent by content)
//   std::shared_ptr<const Index> s = b.snapshot();
//
// Events are idempotent by content: an event equal to one already stored (same
// normalised fields, same instant) is recognised and changes nothing, so
// ingesting a file twice does not double any count.
//
// Every piece of state is a column of compact blocks (sdk/column.hpp) plus the
// updates not folded into it yet; folding re-encodes only the chunks the
// updates fall in, so a snapshot after a small batch costs O(what changed).
// Latest-wins state (attributes, feature flags) is columns too: the time of
// each user's latest state, and the state.
//
// Thread safety: not synchronised; the engine's writer path owns the builder
// and hands readers the snapshots it publishes.
#pragma once

#include <roaring/roaring.hh>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalog/catalog.hpp"
#include "index/index.hpp"
#include "index/index_image.hpp"
#include "index/residue.hpp"
#include "retarget/status.hpp"
#include "ingest/event.hpp"
#include "index/hash_set.hpp"

namespace retarget {

class IndexBuilder {
 public:
  IndexBuilder();

  // An event's content hash (128 bits): equal events have equal hashes.
  using Hash128 = HashSet128::Key;
  struct Hash128Hasher {
    std::size_t operator()(const Hash128& h) const { return h.a; }
  };
  static Hash128 content_hash(const Event& e);
  // The 16 bytes of a hash, and back. REQUIRES: key.size() >= 16 (the hash is its last 16 bytes).
  static std::string key_of(const Hash128& h);
  static Hash128 hash_in_key(std::string_view key);

  // Applies one validated event. Returns false when it is a duplicate.
  // Events may arrive in any order; `event.seq` orders ties of equal times
  // among events not folded yet (anything folded was ingested earlier).
  bool add(const Event& event, const Catalog& catalog) { return add_hashed(event, catalog, content_hash(event)); }
  bool add(const Event& event, const Catalog& catalog, const Hash128& hash) { return add_hashed(event, catalog, hash); }
  bool contains(const Hash128& hash) const { return seen_.contains(hash); }

  // An immutable snapshot of everything added so far. Columns untouched since
  // the last snapshot are shared with it.
  std::shared_ptr<const Index> snapshot();
  // Merges every chunk's delta into its block (after a bulk load, before a
  // checkpoint): smaller columns and the fastest kernels. O(index).
  void compact();

  std::uint32_t user_count() const { return users_->size(); }
  // Distinct custom attribute names stored (limits.max_attribute_names).
  std::size_t attribute_name_count() const { return attributes_.size(); }
  bool has_attribute(std::string_view name) const { return attributes_.find(name) != attributes_.end(); }
  // Events stored (whether or not the dedup set is loaded yet).
  std::uint64_t event_count() const;
  std::size_t dedup_memory_bytes() const { return seen_.memory_bytes(); }

  // --- Tiers (lifecycle) ---------------------------------------------------
  // A source's interaction data is live (published in snapshots) or in the
  // long-term tier (kept and still updated by new events, never published).
  // Profile summaries never depend on the tier.
  struct SourceStats {
    std::uint64_t records = 0;                // interaction events stored for the source
    sdk::Timestamp last_sent = sdk::kNoTime;  // latest `received` event
    bool archived = false;
    bool deleted = false;        // legacy policy: its interaction data is gone (erase_source)
    std::uint64_t unpurged = 0;  // deleted: its events still in the raw-event blocks or the log
  };
  SourceStats source_stats(const std::string& source_key) const;
  // Moves a source's data to (true) or from (false) the long-term tier.
  void set_archived(const std::string& source_key, bool archived);
  // Deletes a source's interaction data irrecoverably (legacy policy);
  // profile summaries and analytics stay. Its raw events wait for the purge
  // (unpurged). A deleted source that sends again is revived: its new
  // events are fresh live data.
  void erase_source(const std::string& source_key);
  void revive_source(const std::string& source_key);
  // The legacy purge: a residue replayed in place of the events it dropped
  // (index/residue.hpp), and, once a purge is durable, the events it took
  // out of the raw-event blocks.
  void apply_residue(const Residue& residue);
  void purged(const std::string& source_key, std::uint64_t events);
  std::vector<std::string> source_keys() const;
  // Sources with deleted events still to purge, and how many.
  std::map<std::string, std::uint64_t> unpurged_sources() const;

  // --- Analytics: counted at ingest, never touched by expiry ------------------
  using SourceAnalytics = retarget::SourceAnalytics;
  // nullptr when the source has no events.
  const SourceAnalytics* analytics(const std::string& source_key) const;

  // --- Persistence (the checkpoint, the tier mover) -----------------------------
  // What changed since the last capture (everything with `all`): columns,
  // sources, analytics, users and content hashes added. Pending updates are
  // folded first. What is captured counts as persisted from then on; call
  // mark_all_dirty() when writing it failed.
  BuilderImage capture(bool all);
  void mark_all_dirty();
  // Opening: installs what a checkpoint holds. Users first, in index order.
  // REQUIRES: an empty builder, or installs of other columns only.
  void install_user(std::shared_ptr<const void> owner, std::string_view id, std::uint16_t bucket);
  void install_column(const ColumnImage& column);
  void install_source(const SourceImage& source);
  void install_analytics(const std::string& source_key, SourceAnalytics analytics);
  // The content hashes of events stored before the last checkpoint are loaded
  // only when an ingest needs them (a reader never does): `loader` fills the
  // set once, before the first add().
  // `persisted`: how many hashes the loader holds (event_count() before loading).
  void set_dedup_loader(std::function<Status(HashSet128&)> loader, std::uint64_t persisted);
  Status ensure_dedup_loaded();
  // Replay of the log after a checkpoint: the events there were unique when
  // logged, so their hashes are recorded without a lookup.
  bool add_replayed(const Event& event, const Catalog& catalog, const Hash128& hash);

  // The tier mover. Archiving an expired source: begin_archive() hands out
  // its columns (the base) and from then on its new events go to a separate
  // late part; finish_archive() drops the base from memory once the archive
  // file is durable (abort_archive() merges the late part back instead).
  // install_restored() makes the archived base and the late part one again.
  std::vector<ColumnImage> begin_archive(const std::string& source_key);
  void finish_archive(const std::string& source_key, std::shared_ptr<const Roaring> users);
  void abort_archive(const std::string& source_key);
  void install_restored(const std::string& source_key, const std::vector<ColumnImage>& archived);
  // A live source's columns (to write them to a live table after a restore).
  std::vector<ColumnImage> source_columns(const std::string& source_key);
  // Whether the source's base columns are in memory (false once archived).
  bool source_columns_resident(const std::string& source_key) const;
  // An archived source's users (its expired-data warnings name them), set at open.
  void set_archived_users(const std::string& source_key, std::shared_ptr<const Roaring> users);
  // Every user with interaction data in the source (base, late part, archived).
  Roaring source_users(const std::string& source_key);

 private:
  // One int64 column's state: everything folded so far (immutable chunks,
  // shared with the snapshots that publish it) and the updates not folded yet.
  template <typename Tag>
  struct IntState {
    std::shared_ptr<const sdk::IntColumn<Tag>> state = std::make_shared<const sdk::IntColumn<Tag>>();
    std::vector<std::pair<UserIndex, std::int64_t>> pending;
    bool changed = false;  // state changed since the last snapshot
    bool dirty = true;     // state changed since the last checkpoint capture
  };
  // A latest-wins column (attributes, feature flags): per user the time of
  // the latest state (`times`: set or unset) and the visible value.
  struct LatestUpdate {
    UserIndex user;
    sdk::Timestamp time;
    std::uint64_t seq;
    std::optional<AttributeValue> value;  // nullopt: unset (flags: enabled = has_value)
  };
  struct AttributeState {
    std::shared_ptr<const sdk::UserTimes> times = std::make_shared<const sdk::UserTimes>();
    std::shared_ptr<const sdk::UserAttributes> values = std::make_shared<const sdk::UserAttributes>();
    std::vector<LatestUpdate> pending;
    bool changed = false;
    bool dirty = true;
  };
  struct FlagState {
    std::shared_ptr<const sdk::UserTimes> states = std::make_shared<const sdk::UserTimes>();  // time * 2 + enabled
    std::shared_ptr<const sdk::UserTimes> enabled = std::make_shared<const sdk::UserTimes>(); // visible: time
    std::vector<LatestUpdate> pending;
    bool changed = false;
    bool dirty = true;
  };
  struct SourceData {
    enum class Residence : std::uint8_t { kResident, kArchiving, kArchived };
    std::unordered_map<std::string, IntState<sdk::TimeTag>> facts;  // the base, by fact_key_string
    std::unordered_map<std::string, IntState<sdk::TimeTag>> late;   // new events while archiving or archived
    SourceStats stats;
    Residence residence = Residence::kResident;
    std::shared_ptr<const Roaring> archived_users;  // kArchived: the base's users
    bool republish = false;   // tier changed: (un)publish every column at the next snapshot
    bool dirty = true;        // stats changed since the last capture
    bool analytics_dirty = true;
  };
  enum class Combine { kMax, kSum };

  bool add_hashed(const Event& event, const Catalog& catalog, const Hash128& hash);
  void apply(const Event& event, const Catalog& catalog);
  template <typename Tag>
  static void push(IntState<Tag>& c, UserIndex u, std::int64_t value, Combine combine);
  template <typename Tag>
  static void fold(IntState<Tag>& c, Combine combine);
  static void fold(AttributeState& a);
  static void fold(FlagState& f);
  void fact(const Event& e, UserIndex u, sdk::FactKind kind, std::string_view step, std::string_view detail);
  void summary(UserIndex u, sdk::Timestamp t, sdk::SummaryKind kind, std::string_view a = {},
               std::string_view b = {});

  std::shared_ptr<UserDirectory> users_;
  HashSet128 seen_;  // content hashes of every stored event
  std::unordered_map<std::string, SourceData> sources_;          // by source_key()
  std::unordered_map<std::string, SourceAnalytics> analytics_;   // by source_key()
  std::unordered_map<std::string, IntState<sdk::TimeTag>> summaries_;  // by summary_key_string
  std::map<std::string, FlagState> feature_flags_;
  IntState<sdk::CountTag> news_feed_views_;                      // pending: +1 per view
  std::map<std::string, AttributeState, std::less<>> attributes_;
  std::shared_ptr<Index> last_;
  UserIndex users_captured_ = 0;          // users below this were captured by a checkpoint
  std::vector<Hash128> new_hashes_;       // hashes added since the last capture
  bool dedup_loaded_ = true;
  std::uint64_t persisted_hashes_ = 0;
  std::function<Status(HashSet128&)> dedup_loader_;
  // Per-event scratch (add_hashed): the column key being looked up, and the
  // event's source (interaction events only).
  std::string key_buf_;
  SourceData* current_source_ = nullptr;
};

}  // namespace retarget
