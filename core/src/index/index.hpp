// The in-memory index: what evaluation reads. One Index is an immutable
// snapshot; the store publishes a new one after each ingest batch, sharing
// every column that did not change.
//
// Thread safety: immutable after construction; read from any thread.
#pragma once

#include <roaring/roaring.hh>

#include <atomic>
#include <map>
#include <memory>
#include <shared_mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "retarget/engine.hpp"
#include "retarget/sdk/data.hpp"

namespace retarget {

using sdk::UserIndex;

// External user id <-> dense index. Append-only and shared by every snapshot
// (publishing one never copies it).
//
// Thread safety: one writer (intern) at a time; readers may call id() and
// hashes_in_chunk() for users below a published snapshot's user count without
// locking (those entries are never moved or changed), and find() at any time.
class UserDirectory {
 public:
  UserDirectory();
  ~UserDirectory();
  UserDirectory(const UserDirectory&) = delete;
  UserDirectory& operator=(const UserDirectory&) = delete;

  // Returns the user's index, adding the user when new. Writer only.
  UserIndex intern(std::string_view id);
  std::optional<UserIndex> find(std::string_view id) const;
  const std::string& id(UserIndex u) const { return block(u).ids[sdk::offset_in_chunk(u)]; }
  // Users interned so far (the writer's view; a snapshot knows its own count).
  std::uint32_t size() const { return size_.load(std::memory_order_acquire); }
  // sdk::user_id_hash of the first `count` users of one chunk.
  std::span<const std::uint64_t> hashes_in_chunk(std::uint32_t chunk, std::uint32_t user_count) const;
  // Approximate heap bytes: ids (with their heap parts), hashes, the lookup table.
  std::size_t memory_bytes() const;

 private:
  // One block per chunk of users: entries never move once written.
  struct Block {
    std::string ids[sdk::kChunkUsers];
    std::uint64_t hashes[sdk::kChunkUsers];
  };
  static constexpr std::size_t kMaxBlocks = std::size_t{1} << (32 - sdk::kChunkShift);
  const Block& block(UserIndex u) const { return *blocks_[sdk::chunk_of(u)]; }

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unique_ptr<Block*[]> blocks_;  // kMaxBlocks slots, filled in order
  std::atomic<std::uint32_t> size_{0};
  mutable std::shared_mutex lookup_mu_;  // guards index_
  std::unordered_map<std::string, UserIndex, Hash, std::equal_to<>> index_;
};

// The string key of an interaction fact column (append_: into a reused buffer).
std::string fact_key_string(const sdk::FactKey& key);
void append_fact_key(std::string& out, sdk::SourceKind kind, std::string_view source, sdk::FactKind fact,
                     std::string_view step, std::string_view detail);
// The string key of a profile summary column.
std::string summary_key_string(sdk::SummaryKind kind, std::string_view a, std::string_view b);
void append_summary_key(std::string& out, sdk::SummaryKind kind, std::string_view a, std::string_view b);
// "campaign:<id>" / "canvas:<id>": the key of a source in lifecycle state.
std::string source_key(sdk::SourceKind kind, std::string_view id);
void append_source_key(std::string& out, sdk::SourceKind kind, std::string_view id);

template <typename T>
using ColumnMap = std::unordered_map<std::string, std::shared_ptr<const sdk::UserColumn<T>>>;

class Index final : public sdk::InteractionView, public sdk::ProfileView {
 public:
  std::uint32_t user_count() const { return user_count_; }
  // Ids of this snapshot's users (u < user_count()).
  const std::string& user_id(UserIndex u) const { return users_->id(u); }
  // A user of this snapshot by external id (users added later are unknown here).
  std::optional<UserIndex> find_user(std::string_view id) const {
    auto u = users_->find(id);
    return u && *u < user_count_ ? u : std::nullopt;
  }

  // InteractionView: expired sources have no facts.
  const sdk::UserTimes* fact(const sdk::FactKey& key) const override;
  // ProfileView.
  const sdk::UserTimes* times(sdk::SummaryKind kind, std::string_view a, std::string_view b) const override;
  const sdk::UserCounts* news_feed_views() const override { return news_feed_views_.get(); }
  const sdk::UserAttributes* attribute(std::string_view name) const override;
  std::span<const std::uint64_t> user_hashes(std::uint32_t chunk) const override {
    return users_->hashes_in_chunk(chunk, user_count_);
  }

  bool is_expired(sdk::SourceKind kind, std::string_view id) const;
  // The expired sources (keys) holding interaction data of `user`: what an
  // interaction-data surface of that user leaves out (its warning names them).
  std::vector<std::string> expired_sources_of(UserIndex user) const;
  // Names of the custom attributes any user has, sorted.
  std::vector<std::string> attribute_names() const;
  std::size_t memory_bytes() const;
  // Sizes by part (interaction_events is left to the store).
  MemoryStats memory_stats() const;

 private:
  friend class EventStore;
  std::uint32_t user_count_ = 0;
  std::shared_ptr<const UserDirectory> users_ = std::make_shared<UserDirectory>();
  ColumnMap<sdk::Timestamp> facts_;
  ColumnMap<sdk::Timestamp> summaries_;
  std::shared_ptr<const sdk::UserCounts> news_feed_views_;
  ColumnMap<sdk::AttributeValue> attributes_;
  std::set<std::string, std::less<>> expired_sources_;
  // Per expired source, every user with interaction data there (hidden).
  std::map<std::string, std::shared_ptr<const Roaring>, std::less<>> expired_users_;
};

}  // namespace retarget
