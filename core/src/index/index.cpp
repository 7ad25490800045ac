#include "index/index.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace retarget {

// --- UserDirectory ---------------------------------------------------------------

namespace {
constexpr std::size_t kPageBytes = std::size_t{1} << 20;
}

UserDirectory::Table::Table(std::size_t n) : mask(n - 1), slots(new std::atomic<std::uint32_t>[n]) {
  for (std::size_t i = 0; i < n; ++i) slots[i].store(0, std::memory_order_relaxed);
}

UserDirectory::UserDirectory() : blocks_(new Block*[kMaxBlocks]()) {
  table_slots_ = 1024;
  table_.store(std::make_shared<const Table>(table_slots_));
}

UserDirectory::~UserDirectory() {
  for (std::size_t b = 0; b < kMaxBlocks && blocks_[b]; ++b) delete blocks_[b];
}

std::uint64_t UserDirectory::hash_of(std::string_view id) {
  std::uint64_t h = sdk::user_id_hash(id);
  // FNV-1a's low bits are weak for short keys: mix before masking.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

void UserDirectory::insert(Table& t, UserIndex u, std::uint64_t hash) {
  for (std::size_t i = hash & t.mask;; i = (i + 1) & t.mask) {
    if (t.slots[i].load(std::memory_order_relaxed) == 0) {
      t.slots[i].store(u + 1, std::memory_order_release);
      return;
    }
  }
}

UserIndex UserDirectory::append(const char* bytes, std::uint16_t length, std::uint16_t bucket) {
  std::uint32_t u = size_.load(std::memory_order_relaxed);
  if (u == UINT32_MAX) throw std::length_error("the user directory is full (2^32 - 1 users)");
  Block*& b = blocks_[sdk::chunk_of(u)];
  if (!b) b = new Block();
  std::uint32_t o = sdk::offset_in_chunk(u);
  b->ptr[o] = bytes;
  b->len[o] = length;
  b->buckets[o] = bucket;
  // Grow the lookup table (kept at most 70% full) by building a new one:
  // readers keep probing the old one meanwhile.
  if ((std::size_t{u} + 1) * 10 > table_slots_ * 7) {
    std::size_t n = table_slots_ * 2;
    auto next = std::make_shared<Table>(n);
    for (UserIndex v = 0; v < u; ++v) insert(*next, v, hash_of(id(v)));
    table_slots_ = n;
    table_.store(std::move(next));
  }
  auto table = table_.load();
  insert(const_cast<Table&>(*table), u, hash_of({bytes, length}));
  size_.store(u + 1, std::memory_order_release);
  return u;
}

UserIndex UserDirectory::intern(std::string_view id) {
  if (auto u = find(id)) return *u;
  if (id.size() > UINT16_MAX) throw std::length_error("a user id is over 65,535 bytes");
  if (pages_.empty() || page_used_ + id.size() > kPageBytes) {
    pages_.push_back(std::unique_ptr<char[]>(new char[std::max(kPageBytes, id.size())]));
    page_used_ = 0;
  }
  char* at = pages_.back().get() + page_used_;
  std::memcpy(at, id.data(), id.size());
  page_used_ += id.size();
  return append(at, static_cast<std::uint16_t>(id.size()),
                static_cast<std::uint16_t>(sdk::user_id_hash(id) % 10000));
}

UserIndex UserDirectory::adopt(std::shared_ptr<const void> owner, std::string_view id, std::uint16_t bucket) {
  if (owners_.empty() || owners_.back() != owner) owners_.push_back(std::move(owner));
  return append(id.data(), static_cast<std::uint16_t>(id.size()), bucket);
}

std::optional<UserIndex> UserDirectory::find(std::string_view id) const {
  auto table = table_.load();
  std::uint32_t count = size_.load(std::memory_order_acquire);
  for (std::size_t i = hash_of(id) & table->mask;; i = (i + 1) & table->mask) {
    std::uint32_t slot = table->slots[i].load(std::memory_order_acquire);
    if (slot == 0) return std::nullopt;
    UserIndex u = slot - 1;
    if (u < count && this->id(u) == id) return u;
  }
}

std::span<const std::uint16_t> UserDirectory::buckets_in_chunk(std::uint32_t chunk, std::uint32_t user_count) const {
  std::uint64_t first = std::uint64_t{chunk} << sdk::kChunkShift;
  if (first >= user_count) return {};
  auto n = static_cast<std::size_t>(std::min<std::uint64_t>(sdk::kChunkUsers, user_count - first));
  return std::span<const std::uint16_t>(blocks_[chunk]->buckets, n);
}

std::size_t UserDirectory::memory_bytes() const {
  std::size_t n = kMaxBlocks * sizeof(Block*);
  for (std::size_t b = 0; b < kMaxBlocks && blocks_[b]; ++b) n += sizeof(Block);
  n += pages_.size() * kPageBytes;
  n += table_slots_ * sizeof(std::uint32_t);
  return n;
}

// --- keys -----------------------------------------------------------------------

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
  out += to_string(kind);
  out += ':';
  out += id;
}

// --- the halves -------------------------------------------------------------------

const sdk::UserTimes* ProfileIndex::times(sdk::SummaryKind kind, std::string_view a, std::string_view b) const {
  thread_local std::string buffer;  // as InteractionIndex::fact
  buffer.clear();
  append_summary_key(buffer, kind, a, b);
  auto it = summaries_.find(buffer);
  return it == summaries_.end() ? nullptr : it->second.get();
}

const sdk::UserAttributes* ProfileIndex::attribute(std::string_view name) const {
  auto it = attributes_.find(std::string(name));
  return it == attributes_.end() ? nullptr : it->second.get();
}

std::vector<std::string> ProfileIndex::attribute_names() const {
  std::vector<std::string> names;
  for (const auto& [name, column] : attributes_)
    if (column && !column->empty()) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

void ProfileIndex::add_memory(IndexMemory& m) const {
  for (const auto& [k, c] : summaries_)
    if (c) m.profile_entries += c->size(), m.profile_bytes += c->scan_bytes(), m.overhead_bytes += c->overhead_bytes();
  for (const auto& [k, c] : attributes_)
    if (c) m.profile_entries += c->size(), m.profile_bytes += c->scan_bytes(), m.overhead_bytes += c->overhead_bytes();
  if (news_feed_views_)
    m.profile_entries += news_feed_views_->size(), m.profile_bytes += news_feed_views_->scan_bytes(),
        m.overhead_bytes += news_feed_views_->overhead_bytes();
}

const sdk::UserTimes* InteractionIndex::fact(const sdk::FactKey& key) const {
  // Called per chunk and per key by every interaction leaf: the key is built
  // in a buffer this thread reuses, not a fresh string each time.
  thread_local std::string buffer;
  buffer.clear();
  append_fact_key(buffer, key.kind, key.source, key.fact, key.step, key.detail);
  auto it = facts_.find(buffer);
  return it == facts_.end() ? nullptr : it->second.get();
}

void InteractionIndex::add_memory(IndexMemory& m) const {
  for (const auto& [k, c] : facts_)
    if (c) m.interaction_entries += c->size(), m.interaction_bytes += c->scan_bytes(), m.overhead_bytes += c->overhead_bytes();
}

// --- Index ------------------------------------------------------------------------

Index::Index()
    : users_(std::make_shared<UserDirectory>()), profiles_(std::make_shared<ProfileIndex>()),
      interactions_(std::make_shared<InteractionIndex>()) {}

std::vector<std::string> Index::expired_sources_of(UserIndex user) const {
  std::vector<std::string> out;
  for (const auto& [key, users] : expired_users_)
    if (users && users->contains(user)) out.push_back(key);
  return out;
}

bool Index::is_expired(sdk::SourceKind kind, std::string_view id) const {
  return expired_sources_.count(source_key(kind, id)) > 0;
}

IndexMemory Index::memory() const {
  IndexMemory m;
  m.users = user_count_;
  profiles_->add_memory(m);
  interactions_->add_memory(m);
  m.user_directory_bytes = users_->memory_bytes();
  return m;
}

}  // namespace retarget
