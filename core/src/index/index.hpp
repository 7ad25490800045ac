// The in-memory index: what evaluation reads. One Index is an immutable
// snapshot; the builder publishes a new one after each change, sharing every
// column (and each half) that did not change.
//
// It has two halves that never mix:
//  - ProfileIndex (sdk::ProfileView): profile summaries, counts, attributes,
//    random buckets. It holds no interaction data and no route to any, so a
//    profile-level filter given it cannot reach interaction data by any cast.
//  - InteractionIndex (sdk::InteractionView): the facts of live sources.
//
// Thread safety: immutable after construction; read from any thread.
#pragma once

#include <roaring/roaring.hh>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/published.hpp"
#include "retarget/identity.hpp"
#include "retarget/sdk/data.hpp"

namespace retarget {

using sdk::UserIndex;

// What the resident index holds, by part (Engine::memory_stats).
struct IndexMemory {
  std::uint64_t users = 0;
  std::uint64_t interaction_entries = 0;  // (user, fact) entries in the interaction columns
  std::uint64_t interaction_bytes = 0;    // their blocks
  std::uint64_t profile_entries = 0;
  std::uint64_t profile_bytes = 0;        // profile summaries, counts and attributes
  std::uint64_t user_directory_bytes = 0; // external ids, buckets and the id lookup
  std::uint64_t overhead_bytes = 0;       // column and chunk bookkeeping
};

// External user id <-> dense index. Append-only and shared by every snapshot
// (publishing one never copies it).
//
// Layout (lean: about 12 bytes per user plus the id's bytes, and a 4-byte
// slot per user in the lookup table): per chunk of users a block of id
// pointers, lengths and random buckets; the ids' bytes in append-only pages;
// an open-addressing table of user indexes keyed by a hash of the id.
//
// Thread safety: one writer (intern, adopt) at a time. Readers may call id()
// and buckets_in_chunk() for users below a published snapshot's user count
// (those entries never move or change), and find() at any time: the lookup
// table is replaced, never resized in place, when it grows.
class UserDirectory {
 public:
  UserDirectory();
  ~UserDirectory();
  UserDirectory(const UserDirectory&) = delete;
  UserDirectory& operator=(const UserDirectory&) = delete;

  // Returns the user's index, adding the user when new. Writer only.
  // REQUIRES: id is 1..65,535 bytes (events allow 1..512).
  UserIndex intern(std::string_view id);
  // Adds a user whose id bytes live in `owner` (a file buffer) without
  // copying them. Writer only. REQUIRES: id not present yet.
  UserIndex adopt(std::shared_ptr<const void> owner, std::string_view id, std::uint16_t bucket);
  std::optional<UserIndex> find(std::string_view id) const;
  std::string_view id(UserIndex u) const {
    const Block& b = block(u);
    std::uint32_t o = sdk::offset_in_chunk(u);
    return {b.ptr[o], b.len[o]};
  }
  std::uint16_t bucket(UserIndex u) const { return block(u).buckets[sdk::offset_in_chunk(u)]; }
  // Users interned so far (the writer's view; a snapshot knows its own count).
  std::uint32_t size() const { return size_.load(std::memory_order_acquire); }
  // The random buckets (sdk::user_id_hash(id) % 10000) of the first `count` users of one chunk.
  std::span<const std::uint16_t> buckets_in_chunk(std::uint32_t chunk, std::uint32_t user_count) const;
  // Heap bytes: blocks, id pages, the lookup table (file buffers not included).
  std::size_t memory_bytes() const;

 private:
  struct Block {
    const char* ptr[sdk::kChunkUsers];
    std::uint16_t len[sdk::kChunkUsers];
    std::uint16_t buckets[sdk::kChunkUsers];
  };
  struct Table {
    explicit Table(std::size_t slots);
    std::size_t mask;
    std::unique_ptr<std::atomic<std::uint32_t>[]> slots;  // user + 1; 0 = empty
  };
  static constexpr std::size_t kMaxBlocks = std::size_t{1} << (32 - sdk::kChunkShift);
  const Block& block(UserIndex u) const { return *blocks_[sdk::chunk_of(u)]; }
  UserIndex append(const char* bytes, std::uint16_t length, std::uint16_t bucket);
  void insert(Table& t, UserIndex u, std::uint64_t hash);
  static std::uint64_t hash_of(std::string_view id);

  std::unique_ptr<Block*[]> blocks_;  // kMaxBlocks slots, filled in order
  std::atomic<std::uint32_t> size_{0};
  Published<Table> table_;
  std::size_t table_slots_ = 0;  // writer's copy of the current table's size
  // Writer-owned storage of id bytes: pages never move once allocated.
  std::vector<std::unique_ptr<char[]>> pages_;
  std::size_t page_used_ = 0;
  std::vector<std::shared_ptr<const void>> owners_;  // file buffers adopted ids point into
};

// The string key of an interaction fact column (append_: into a reused buffer).
std::string fact_key_string(const sdk::FactKey& key);
void append_fact_key(std::string& out, sdk::SourceKind kind, std::string_view source, sdk::FactKind fact,
                     std::string_view step, std::string_view detail);
// The string key of a profile summary column.
std::string summary_key_string(sdk::SummaryKind kind, std::string_view a, std::string_view b);
void append_summary_key(std::string& out, sdk::SummaryKind kind, std::string_view a, std::string_view b);
// source_key() (retarget/identity.hpp) into a reused buffer.
void append_source_key(std::string& out, sdk::SourceKind kind, std::string_view id);

template <typename Column>
using ColumnMap = std::unordered_map<std::string, std::shared_ptr<const Column>>;

class ProfileIndex final : public sdk::ProfileView {
 public:
  const sdk::UserTimes* times(sdk::SummaryKind kind, std::string_view a, std::string_view b) const override;
  const sdk::UserCounts* news_feed_views() const override { return news_feed_views_.get(); }
  const sdk::UserAttributes* attribute(std::string_view name) const override;
  std::span<const std::uint16_t> user_buckets(std::uint32_t chunk) const override {
    return users_->buckets_in_chunk(chunk, user_count_);
  }
  // Names of the custom attributes any user has, sorted.
  std::vector<std::string> attribute_names() const;
  void add_memory(IndexMemory& m) const;

 private:
  friend class IndexBuilder;
  std::uint32_t user_count_ = 0;
  std::shared_ptr<const UserDirectory> users_ = std::make_shared<UserDirectory>();
  ColumnMap<sdk::UserTimes> summaries_;
  std::shared_ptr<const sdk::UserCounts> news_feed_views_;
  ColumnMap<sdk::UserAttributes> attributes_;
};

class InteractionIndex final : public sdk::InteractionView {
 public:
  // Expired sources have no facts: their columns are not here.
  const sdk::UserTimes* fact(const sdk::FactKey& key) const override;
  void add_memory(IndexMemory& m) const;

 private:
  friend class IndexBuilder;
  ColumnMap<sdk::UserTimes> facts_;
};

class Index {
 public:
  Index();
  std::uint32_t user_count() const { return user_count_; }
  // Ids of this snapshot's users (u < user_count()).
  std::string_view user_id(UserIndex u) const { return users_->id(u); }
  // A user of this snapshot by external id (users added later are unknown here).
  std::optional<UserIndex> find_user(std::string_view id) const {
    auto u = users_->find(id);
    return u && *u < user_count_ ? u : std::nullopt;
  }
  const ProfileIndex& profiles() const { return *profiles_; }
  const InteractionIndex& interactions() const { return *interactions_; }
  // The directory this snapshot's ids come from (shared by later snapshots).
  const std::shared_ptr<const UserDirectory>& user_directory() const { return users_; }

  bool is_expired(sdk::SourceKind kind, std::string_view id) const;
  bool is_expired(const std::string& source_key) const { return expired_sources_.count(source_key) > 0; }
  // The expired sources (keys) holding interaction data of `user`: what an
  // interaction-data surface of that user leaves out (its warning names them).
  std::vector<std::string> expired_sources_of(UserIndex user) const;
  IndexMemory memory() const;

 private:
  friend class IndexBuilder;
  std::uint32_t user_count_ = 0;
  std::shared_ptr<const UserDirectory> users_;
  std::shared_ptr<const ProfileIndex> profiles_;
  std::shared_ptr<const InteractionIndex> interactions_;
  std::set<std::string, std::less<>> expired_sources_;
  // Per expired source, every user with interaction data there (hidden).
  std::map<std::string, std::shared_ptr<const Roaring>, std::less<>> expired_users_;
};

}  // namespace retarget
