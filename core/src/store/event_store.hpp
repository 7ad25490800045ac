// The in-memory event store (the `:memory:` data directory): applies accepted
// events to per-column builders and publishes immutable Index snapshots.
//
// Events are idempotent by content: an event equal to one already stored (same
// normalised fields, same instant) is recognised and changes nothing, so
// ingesting a file twice does not double any count.
//
// Thread safety: not synchronised; the engine serialises writers and
// publishes snapshots to readers.
#pragma once

#include <roaring/roaring.hh>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "catalog/catalog.hpp"
#include "index/index.hpp"
#include "ingest/event.hpp"
#include "store/hash_set.hpp"

namespace retarget {

class EventStore {
 public:
  EventStore();

  // An event's content hash (128 bits): equal events have equal hashes.
  using Hash128 = HashSet128::Key;
  struct Hash128Hasher {
    std::size_t operator()(const Hash128& h) const { return h.a; }
  };
  static Hash128 content_hash(const Event& e);
  // The 16 bytes that key an event in the durable store, and the hash back
  // from a stored key (which ends with those 16 bytes). REQUIRES: key.size() >= 16.
  static std::string key_of(const Hash128& h);
  static Hash128 hash_in_key(std::string_view key);

  // Applies one validated event. Returns false when it is a duplicate.
  // Events may arrive in any order; `event.seq` orders ties of equal times.
  bool add(const Event& event, const Catalog& catalog) { return add_hashed(event, catalog, content_hash(event)); }
  // The same with the event's content hash already computed (ingest hashes once).
  bool add(const Event& event, const Catalog& catalog, const Hash128& hash) { return add_hashed(event, catalog, hash); }
  bool contains(const Hash128& hash) const { return seen_.contains(hash); }

  // An immutable snapshot of everything added so far. Columns untouched since
  // the last snapshot are shared with it.
  std::shared_ptr<const Index> snapshot();

  std::uint32_t user_count() const { return users_->size(); }
  std::uint64_t event_count() const { return seen_.size(); }

  // --- Tiers (lifecycle) ---------------------------------------------------
  // A source's interaction data is live (published in snapshots) or in the
  // long-term tier (kept and still updated by new events, never published).
  // Profile summaries never depend on the tier.
  struct SourceStats {
    std::uint64_t records = 0;           // interaction events stored for the source
    sdk::Timestamp last_sent = sdk::kNoTime;  // latest `received` event
    bool archived = false;
  };
  SourceStats source_stats(const std::string& source_key) const;
  // Moves a source's data to (true) or from (false) the long-term tier.
  void set_archived(const std::string& source_key, bool archived);
  // Deletes a source's interaction data irrecoverably (legacy policy).
  void erase_source(const std::string& source_key);
  std::vector<std::string> source_keys() const;

  // --- Analytics: counted at ingest, never touched by expiry ------------------
  struct SourceAnalytics {
    std::uint64_t sends = 0, opens = 0, clicks = 0, conversions = 0;
    Roaring recipients, control;  // distinct users
  };
  // nullptr when the source has no events.
  const SourceAnalytics* analytics(const std::string& source_key) const;

 private:
  // One column's state: everything folded so far (immutable chunks, shared
  // with the snapshots that publish it) and the updates not folded yet.
  // Folding touches only the chunks the updates fall in.
  template <typename T>
  struct Column {
    std::shared_ptr<const sdk::UserColumn<T>> state = std::make_shared<const sdk::UserColumn<T>>();
    std::vector<std::pair<UserIndex, T>> pending;
    bool changed = false;  // state changed since the last snapshot
  };
  using TimeColumn = Column<sdk::Timestamp>;
  struct Latest {  // latest-time-wins state; on equal times the later ingest (seq) wins
    sdk::Timestamp time = sdk::kNoTime;
    std::uint64_t seq = 0;
    bool present = false;
    sdk::AttributeValue value;
  };

  bool add_hashed(const Event& event, const Catalog& catalog, const Hash128& hash);
  struct SourceData {
    std::unordered_map<std::string, TimeColumn> facts;  // by fact_key_string
    SourceStats stats;
    bool republish = false;  // tier changed: (un)publish every column at the next snapshot
  };

  // Records "something at t" for u in a latest-time column.
  static void touch_max(TimeColumn& c, UserIndex u, sdk::Timestamp t);
  // Queues an update; folds when the pending updates are worth a pass.
  template <typename T, typename Combine>
  static void push(Column<T>& c, UserIndex u, T value, Combine combine);
  // Folds the pending updates into the state; `combine` merges two values of
  // one user (commutative: latest time wins, counts add).
  template <typename T, typename Combine>
  static void fold(Column<T>& c, Combine combine);
  void fact(const Event& e, UserIndex u, sdk::FactKind kind, std::string_view step, std::string_view detail);
  void summary(UserIndex u, sdk::Timestamp t, sdk::SummaryKind kind, std::string_view a = {},
               std::string_view b = {});

  std::shared_ptr<UserDirectory> users_;
  HashSet128 seen_;  // content hashes of every stored event
  std::unordered_map<std::string, SourceData> sources_;  // by source_key()
  std::unordered_map<std::string, SourceAnalytics> analytics_;  // by source_key()
  std::unordered_map<std::string, TimeColumn> summaries_;  // by summary_key_string
  struct FlagState {
    sdk::Timestamp time;
    std::uint64_t seq;
    bool enabled;
  };
  // feature flag -> user -> latest state (ties: the later ingest wins).
  std::map<std::string, std::unordered_map<UserIndex, FlagState>> feature_flags_;
  std::map<std::string, std::vector<UserIndex>> dirty_flag_users_;  // since the last snapshot
  Column<std::int64_t> news_feed_views_;  // pending: +1 per view
  std::map<std::string, std::unordered_map<UserIndex, Latest>> attributes_;
  std::map<std::string, std::vector<UserIndex>> dirty_attribute_users_;  // since the last snapshot
  std::shared_ptr<Index> last_;
  // Per-event scratch (add_hashed): the column key being looked up, and the
  // event's source (interaction events only).
  std::string key_buf_;
  SourceData* current_source_ = nullptr;
};

}  // namespace retarget
