#include "index/index.hpp"

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace retarget {

UserDirectory::UserDirectory() : blocks_(new Block*[kMaxBlocks]()) {}

UserDirectory::~UserDirectory() {
  for (std::size_t b = 0; b < kMaxBlocks && blocks_[b]; ++b) delete blocks_[b];
}

UserIndex UserDirectory::intern(std::string_view id) {
  {
    std::shared_lock lock(lookup_mu_);
    auto it = index_.find(id);
    if (it != index_.end()) return it->second;
  }
  std::uint32_t u = size_.load(std::memory_order_relaxed);
  if (u == UINT32_MAX) throw std::length_error("the user directory is full (2^32 - 1 users)");
  Block*& b = blocks_[sdk::chunk_of(u)];
  if (!b) b = new Block();
  b->ids[sdk::offset_in_chunk(u)] = std::string(id);
  b->hashes[sdk::offset_in_chunk(u)] = sdk::user_id_hash(id);
  {
    std::unique_lock lock(lookup_mu_);
    index_.emplace(std::string(id), u);
  }
  size_.store(u + 1, std::memory_order_release);
  return u;
}

std::optional<UserIndex> UserDirectory::find(std::string_view id) const {
  std::shared_lock lock(lookup_mu_);
  auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

std::span<const std::uint64_t> UserDirectory::hashes_in_chunk(std::uint32_t chunk, std::uint32_t user_count) const {
  std::uint64_t first = std::uint64_t{chunk} << sdk::kChunkShift;
  if (first >= user_count) return {};
  auto n = static_cast<std::size_t>(std::min<std::uint64_t>(sdk::kChunkUsers, user_count - first));
  return std::span<const std::uint64_t>(blocks_[chunk]->hashes, n);
}

// Fields are separated by \x1f, which cannot occur in ids that came through
// JSON validation unescaped... but may when escaped, so it is escaped too.
static void append_field(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == '\x1f' || c == '\x1e') out += '\x1e';
    out += c;
  }
  out += '\x1f';
}

void append_fact_key(std::string& s, sdk::SourceKind kind, std::string_view source, sdk::FactKind fact,
                     std::string_view step, std::string_view detail) {
  s += static_cast<char>('0' + static_cast<int>(kind));
  s += static_cast<char>('a' + static_cast<int>(fact));
  s += '\x1f';
  append_field(s, source);
  append_field(s, step);
  append_field(s, detail);
}

std::string fact_key_string(const sdk::FactKey& key) {
  std::string s;
  append_fact_key(s, key.kind, key.source, key.fact, key.step, key.detail);
  return s;
}

void append_summary_key(std::string& s, sdk::SummaryKind kind, std::string_view a, std::string_view b) {
  s += static_cast<char>('a' + static_cast<int>(kind));
  s += '\x1f';
  append_field(s, a);
  append_field(s, b);
}

std::string summary_key_string(sdk::SummaryKind kind, std::string_view a, std::string_view b) {
  std::string s;
  append_summary_key(s, kind, a, b);
  return s;
}

void append_source_key(std::string& out, sdk::SourceKind kind, std::string_view id) {
  out += kind == sdk::SourceKind::kCampaign ? "campaign:" : "canvas:";
  out += id;
}

std::string source_key(sdk::SourceKind kind, std::string_view id) {
  std::string s;
  append_source_key(s, kind, id);
  return s;
}

const sdk::UserTimes* Index::fact(const sdk::FactKey& key) const {
  if (!expired_sources_.empty() && is_expired(key.kind, key.source)) return nullptr;
  auto it = facts_.find(fact_key_string(key));
  return it == facts_.end() ? nullptr : it->second.get();
}

const sdk::UserTimes* Index::times(sdk::SummaryKind kind, std::string_view a, std::string_view b) const {
  auto it = summaries_.find(summary_key_string(kind, a, b));
  return it == summaries_.end() ? nullptr : it->second.get();
}

const sdk::UserAttributes* Index::attribute(std::string_view name) const {
  auto it = attributes_.find(std::string(name));
  return it == attributes_.end() ? nullptr : it->second.get();
}

std::vector<std::string> Index::attribute_names() const {
  std::vector<std::string> names;
  for (const auto& [name, column] : attributes_)
    if (column && !column->empty()) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> Index::expired_sources_of(UserIndex user) const {
  std::vector<std::string> out;
  for (const auto& [key, users] : expired_users_)
    if (users && users->contains(user)) out.push_back(key);
  return out;
}

bool Index::is_expired(sdk::SourceKind kind, std::string_view id) const {
  return expired_sources_.count(source_key(kind, id)) > 0;
}

std::size_t UserDirectory::memory_bytes() const {
  std::uint32_t users = size();
  std::size_t n = kMaxBlocks * sizeof(Block*);
  for (std::size_t b = 0; b < kMaxBlocks && blocks_[b]; ++b) n += sizeof(Block);
  for (UserIndex u = 0; u < users; ++u)
    if (id(u).capacity() > 15) n += id(u).capacity() + 1;  // beyond the small-string buffer
  // unordered_map: a node (key string + value + next pointer + cached hash) per id, a bucket pointer each.
  std::shared_lock lock(lookup_mu_);
  n += index_.size() * (sizeof(std::string) + sizeof(UserIndex) + 2 * sizeof(void*)) +
       index_.bucket_count() * sizeof(void*);
  return n;
}

MemoryStats Index::memory_stats() const {
  MemoryStats m;
  m.users = user_count_;
  for (const auto& [k, c] : facts_) {
    if (!c) continue;
    m.interaction_bytes += c->memory_bytes();
    m.interaction_entries += c->size();
  }
  for (const auto& [k, c] : summaries_)
    if (c) m.profile_bytes += c->memory_bytes();
  for (const auto& [k, c] : attributes_)
    if (c) m.profile_bytes += c->memory_bytes();
  if (news_feed_views_) m.profile_bytes += news_feed_views_->memory_bytes();
  m.user_directory_bytes = users_->memory_bytes();
  return m;
}

std::size_t Index::memory_bytes() const {
  std::size_t n = 0;
  for (const auto& [k, c] : facts_) n += c->memory_bytes();
  for (const auto& [k, c] : summaries_) n += c->memory_bytes();
  return n;
}

}  // namespace retarget
