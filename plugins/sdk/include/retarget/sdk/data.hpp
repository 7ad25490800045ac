// Read-only views of the index that filters evaluate against.
//
// Thread safety: every view and column is immutable for the duration of one
// evaluation (the engine evaluates against a snapshot) and may be read from
// any number of threads at once.
//
// Two views, and the tag that separates them:
//  - InteractionView: messaging interaction data per source (campaign or
//    Canvas). Only live data is visible: facts of expired sources are absent.
//    Only filters declared interaction-dependent may open it.
//  - ProfileView: the profile summaries ingestion keeps per user (last receipt
//    per channel, flags, attributes...). Expiry never touches it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "retarget/sdk/types.hpp"

namespace retarget::sdk {

// A column of users (ascending, no duplicates) with one value each, stored
// chunk by chunk (chunk c = users [c * kChunkUsers, (c + 1) * kChunkUsers)).
// Chunks are immutable and shared: the host publishes a new column by
// replacing only the chunks an ingest batch changed, so a small batch costs
// O(changed chunks), never O(users).
// INVARIANT: in every chunk, users strictly increasing and all in that chunk;
//   values parallel to users; size() = the sum of the chunks' sizes.
template <typename T>
class UserColumn {
 public:
  struct Chunk {
    std::vector<UserIndex> users;
    std::vector<T> values;
    // Optional dictionary coding (the host builds it for attribute columns
    // with few distinct values per chunk): values[i] == dictionary[codes[i]].
    // Empty when not built; readers then use `values`.
    std::vector<std::uint32_t> codes;
    std::vector<T> dictionary;
  };
  using ChunkPtr = std::shared_ptr<const Chunk>;

  UserColumn() = default;
  // REQUIRES: users strictly increasing, values parallel to users.
  UserColumn(std::vector<UserIndex> users, std::vector<T> values) {
    std::size_t pos = 0;
    while (pos < users.size()) {
      std::uint32_t c = chunk_of(users[pos]);
      auto chunk = std::make_shared<Chunk>();
      for (; pos < users.size() && chunk_of(users[pos]) == c; ++pos) {
        chunk->users.push_back(users[pos]);
        chunk->values.push_back(std::move(values[pos]));
      }
      if (chunks_.size() <= c) chunks_.resize(c + 1);
      size_ += chunk->users.size();
      chunks_[c] = std::move(chunk);
    }
  }
  // Host side: a column from its chunks (null = no user in that chunk).
  // REQUIRES: chunk i holds only users of chunk i, ascending.
  explicit UserColumn(std::vector<ChunkPtr> chunks) : chunks_(std::move(chunks)) {
    for (const auto& c : chunks_)
      if (c) size_ += c->users.size();
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The users of one chunk and their values (parallel spans).
  std::span<const UserIndex> users_in_chunk(std::uint32_t chunk) const {
    const Chunk* c = get(chunk);
    return c ? std::span<const UserIndex>(c->users) : std::span<const UserIndex>();
  }
  std::span<const T> values_in_chunk(std::uint32_t chunk) const {
    const Chunk* c = get(chunk);
    return c ? std::span<const T>(c->values) : std::span<const T>();
  }
  // The chunk's dictionary coding (both empty when the chunk has none): a
  // filter may evaluate each distinct value once instead of every entry.
  std::span<const std::uint32_t> codes_in_chunk(std::uint32_t chunk) const {
    const Chunk* c = get(chunk);
    return c ? std::span<const std::uint32_t>(c->codes) : std::span<const std::uint32_t>();
  }
  std::span<const T> dictionary_in_chunk(std::uint32_t chunk) const {
    const Chunk* c = get(chunk);
    return c ? std::span<const T>(c->dictionary) : std::span<const T>();
  }
  // The value of one user, or nullptr when the user is not in the column.
  const T* find(UserIndex user) const {
    const Chunk* c = get(chunk_of(user));
    if (!c) return nullptr;
    auto it = std::lower_bound(c->users.begin(), c->users.end(), user);
    if (it == c->users.end() || *it != user) return nullptr;
    return &c->values[static_cast<std::size_t>(it - c->users.begin())];
  }
  bool contains(UserIndex user) const { return find(user) != nullptr; }

  // Sets the bit of every user of the chunk in `out`.
  void set_chunk_bits(std::uint32_t chunk, ChunkBits& out) const {
    for (UserIndex u : users_in_chunk(chunk)) out.set(offset_in_chunk(u));
  }

  // Calls f(user, value) for every user, ascending.
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& c : chunks_)
      if (c)
        for (std::size_t i = 0; i < c->users.size(); ++i) f(c->users[i], c->values[i]);
  }

  // Host side: the chunks, for building the next version of the column.
  const std::vector<ChunkPtr>& chunks() const { return chunks_; }

  // The bytes a full scan reads: users, and codes (+ dictionary) where a
  // chunk is coded, else values.
  std::size_t scan_bytes() const {
    std::size_t n = 0;
    for (const auto& c : chunks_)
      if (c)
        n += c->users.size() * sizeof(UserIndex) +
             (c->codes.empty() ? c->values.size() * sizeof(T)
                               : c->codes.size() * sizeof(std::uint32_t) + c->dictionary.size() * sizeof(T));
    return n;
  }

  std::size_t memory_bytes() const {
    std::size_t n = chunks_.capacity() * sizeof(ChunkPtr);
    for (const auto& c : chunks_)
      if (c)
        n += sizeof(Chunk) + c->users.capacity() * sizeof(UserIndex) + c->values.capacity() * sizeof(T) +
             c->codes.capacity() * sizeof(std::uint32_t) + c->dictionary.capacity() * sizeof(T);
    return n;
  }

 private:
  const Chunk* get(std::uint32_t chunk) const { return chunk < chunks_.size() ? chunks_[chunk].get() : nullptr; }

  std::vector<ChunkPtr> chunks_;
  std::size_t size_ = 0;
};

// Users with a time each: the last time something happened to them.
using UserTimes = UserColumn<Timestamp>;
using UserCounts = UserColumn<std::int64_t>;

// A custom attribute's value. Strings that parse as RFC 3339 times also carry
// the time, so time predicates can apply to them.
struct AttributeValue {
  enum class Type : std::uint8_t { kString, kNumber, kBool };
  Type type = Type::kString;
  std::string text;      // kString
  double number = 0;     // kNumber
  bool boolean = false;  // kBool
  Timestamp time = kNoTime;  // kString that is a valid time, else kNoTime
};
using UserAttributes = UserColumn<AttributeValue>;

// What is known about a source (campaign or Canvas) at compile time.
enum class SourceKind : std::uint8_t { kCampaign, kCanvas };

struct CampaignInfo {
  std::string id, name;
  bool multivariate = false;
  bool recurring = false;
  std::vector<std::string> variants, aliases, tags;
};
struct CanvasInfo {
  std::string id, name;
  std::vector<std::string> steps, variations, control_variations, tags;
};

// Kinds of interaction facts recorded per source (and per Canvas step).
enum class FactKind : std::uint8_t {
  kReceived,         // detail: "" = any channel; step: "" = any step
  kReceivedVariant,  // detail: variant id (campaigns)
  kInteraction,      // detail: action name (opened_email, opened_email_machine, clicked_email, ...)
  kClickedAlias,     // detail: link alias
  kConverted,        // detail: conversion_event number as text ("0" = primary); time = last conversion
  kControl,          // campaign control-group enrollment
  kCanvasEntered,    // detail: variation id; time = last entry
  kCanvasExited,     // time = last exit
};

// A campaign or Canvas, by kind and id.
struct SourceRef {
  SourceKind kind = SourceKind::kCampaign;
  std::string id;
};

struct FactKey {
  SourceKind kind = SourceKind::kCampaign;
  std::string source;  // campaign or Canvas id
  FactKind fact = FactKind::kReceived;
  std::string step;    // Canvas step id, "" = the whole source
  std::string detail;
};

class InteractionView {
 public:
  virtual ~InteractionView() = default;
  // The users with the fact and the last time of it, or nullptr when no user
  // has it, or when the source's data is expired (expired data is absent).
  virtual const UserTimes* fact(const FactKey& key) const = 0;
};

// Profile summaries: maintained by ingestion, never touched by expiry.
enum class SummaryKind : std::uint8_t {
  kLastReceived,        // a: channel, "" = any channel
  kLastInteraction,     // a: action, "" = any action (last_engaged)
  kLastControlEnrolled, // any campaign or Canvas control group
  kLastNewsFeedView,
  kFlag,                // a: hard_bounced | marked_spam | invalid_phone; time = last report
  kFeatureFlagEnabled,  // a: flag; users whose latest state is enabled
  kLastSmsInbound,      // a: subscription group, b: keyword category
  kLastClickedAlias,    // a: alias, any source
};

class ProfileView {
 public:
  virtual ~ProfileView() = default;
  virtual const UserTimes* times(SummaryKind kind, std::string_view a = {}, std::string_view b = {}) const = 0;
  // Number of news feed views per user (users with none are absent).
  virtual const UserCounts* news_feed_views() const = 0;
  // The current value of a custom attribute per user (unset users absent).
  virtual const UserAttributes* attribute(std::string_view name) const = 0;
  // A stable 64-bit hash of the external id of every user of one chunk:
  // element i belongs to user chunk * kChunkUsers + i. FNV-1a 64 over the
  // id's bytes (offset basis 14695981039346656037, prime 1099511628211).
  // Fixed forever: random buckets and partitioning use it.
  virtual std::span<const std::uint64_t> user_hashes(std::uint32_t chunk) const = 0;
};

// FNV-1a 64 of a user id: the definition behind ProfileView::user_hashes(chunk).
inline std::uint64_t user_id_hash(std::string_view id) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : id) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace retarget::sdk
