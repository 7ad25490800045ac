// The in-memory index: what evaluation reads. One Index is an immutable
// snapshot; the store publishes a new one after each ingest batch, sharing
// every column that did not change.
//
// Thread safety: immutable after construction; read from any thread.
#pragma once

#include <memory>
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

// External user id <-> dense index. Append-only.
class UserDirectory {
 public:
  // Returns the user's index, adding the user when new.
  UserIndex intern(std::string_view id);
  std::optional<UserIndex> find(std::string_view id) const;
  const std::string& id(UserIndex u) const { return ids_[u]; }
  std::uint32_t size() const { return static_cast<std::uint32_t>(ids_.size()); }
  // Approximate heap bytes: ids (with their heap parts), hashes, the lookup table.
  std::size_t memory_bytes() const;
  // sdk::user_id_hash of every user, by index.
  const std::vector<std::uint64_t>& hashes() const { return hashes_; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::string> ids_;
  std::vector<std::uint64_t> hashes_;
  std::unordered_map<std::string, UserIndex, Hash, std::equal_to<>> index_;
};

// The string key of an interaction fact column.
std::string fact_key_string(const sdk::FactKey& key);
// The string key of a profile summary column.
std::string summary_key_string(sdk::SummaryKind kind, std::string_view a, std::string_view b);
// "campaign:<id>" / "canvas:<id>": the key of a source in lifecycle state.
std::string source_key(sdk::SourceKind kind, std::string_view id);

template <typename T>
using ColumnMap = std::unordered_map<std::string, std::shared_ptr<const sdk::UserColumn<T>>>;

class Index final : public sdk::InteractionView, public sdk::ProfileView {
 public:
  std::uint32_t user_count() const { return user_count_; }
  const UserDirectory& users() const { return *users_; }

  // InteractionView: expired sources have no facts.
  const sdk::UserTimes* fact(const sdk::FactKey& key) const override;
  // ProfileView.
  const sdk::UserTimes* times(sdk::SummaryKind kind, std::string_view a, std::string_view b) const override;
  const sdk::UserCounts* news_feed_views() const override { return news_feed_views_.get(); }
  const sdk::UserAttributes* attribute(std::string_view name) const override;
  std::span<const std::uint64_t> user_hashes() const override {
    return std::span<const std::uint64_t>(users_->hashes()).first(user_count_);
  }

  bool is_expired(sdk::SourceKind kind, std::string_view id) const;
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
};

}  // namespace retarget
