#include "store/event_store.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <type_traits>
#include <tuple>

namespace retarget {
namespace {

using sdk::FactKind;
using sdk::SummaryKind;
using sdk::Timestamp;

// 64-bit FNV-1a over bytes, then a final avalanche; two seeds give 128 bits.
struct Hasher {
  std::uint64_t h;
  void bytes(std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
    h = (h ^ 0xff) * 0x100000001b3ULL;  // field separator
  }
  void num(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) h = (h ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
  }
  std::uint64_t done() const {
    std::uint64_t x = h;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
  }
};

// Dictionary-codes an attribute chunk when it has few distinct values (the
// common case: countries, plans, flags), so filters decide each distinct value
// once and scan 4-byte codes. High-cardinality chunks stay uncoded.
void encode_chunk(sdk::UserColumn<sdk::AttributeValue>::Chunk& chunk) {
  std::unordered_map<std::string, std::uint32_t> code_of;
  std::string key;
  chunk.codes.reserve(chunk.values.size());
  for (const auto& v : chunk.values) {
    key.assign(1, static_cast<char>(v.type));
    if (v.type == sdk::AttributeValue::Type::kString) key += v.text;
    else if (v.type == sdk::AttributeValue::Type::kNumber) key.append(reinterpret_cast<const char*>(&v.number), sizeof v.number);
    else key += v.boolean ? '1' : '0';
    auto [it, added] = code_of.emplace(key, static_cast<std::uint32_t>(chunk.dictionary.size()));
    if (added) {
      if (chunk.dictionary.size() >= 4096 || chunk.dictionary.size() * 4 > chunk.values.size() + 64) {
        chunk.codes.clear(), chunk.dictionary.clear();
        return;
      }
      chunk.dictionary.push_back(v);
    }
    chunk.codes.push_back(it->second);
  }
}

// The next version of `old` with `updates` (sorted by user, one per user)
// merged in: resolve(old value or nullptr, update) gives the user's new value
// or nullopt to drop the user. Chunks without updates are shared, not copied.
template <typename T, typename U, typename Resolve>
std::shared_ptr<const sdk::UserColumn<T>> apply_updates(const sdk::UserColumn<T>& old,
                                                        const std::vector<std::pair<UserIndex, U>>& updates,
                                                        Resolve resolve) {
  using Chunk = typename sdk::UserColumn<T>::Chunk;
  std::vector<typename sdk::UserColumn<T>::ChunkPtr> chunks = old.chunks();
  std::size_t i = 0;
  while (i < updates.size()) {
    std::uint32_t c = sdk::chunk_of(updates[i].first);
    std::size_t j = i;
    while (j < updates.size() && sdk::chunk_of(updates[j].first) == c) ++j;
    if (chunks.size() <= c) chunks.resize(c + 1);
    const Chunk* before = chunks[c].get();
    std::size_t na = before ? before->users.size() : 0, a = 0, b = i;
    auto next = std::make_shared<Chunk>();
    next->users.reserve(na + (j - i));
    next->values.reserve(na + (j - i));
    auto put = [&](UserIndex u, std::optional<T> v) {
      if (!v) return;
      next->users.push_back(u);
      next->values.push_back(std::move(*v));
    };
    while (a < na || b < j) {
      if (b == j || (a < na && before->users[a] < updates[b].first)) {
        next->users.push_back(before->users[a]);
        next->values.push_back(before->values[a]);
        ++a;
      } else if (a == na || updates[b].first < before->users[a]) {
        put(updates[b].first, resolve(nullptr, updates[b].second));
        ++b;
      } else {
        put(updates[b].first, resolve(&before->values[a], updates[b].second));
        ++a, ++b;
      }
    }
    if constexpr (std::is_same_v<T, sdk::AttributeValue>) encode_chunk(*next);
    chunks[c] = next->users.empty() ? nullptr : std::move(next);
    i = j;
  }
  return std::make_shared<const sdk::UserColumn<T>>(std::move(chunks));
}

// Sorts pending (user, value) updates by user and combines each user's into
// one. `combine` is commutative (max, sum), so the sort need not be stable.
template <typename T, typename Combine>
void reduce_by_user(std::vector<std::pair<UserIndex, T>>& pending, Combine combine) {
  std::sort(pending.begin(), pending.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::size_t out = 0;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    if (out > 0 && pending[out - 1].first == pending[i].first) pending[out - 1].second = combine(pending[out - 1].second, pending[i].second);
    else pending[out++] = pending[i];
  }
  pending.resize(out);
}

// The combines of the two kinds of pending updates.
Timestamp later(Timestamp x, Timestamp y) { return std::max(x, y); }
std::int64_t add_counts(std::int64_t x, std::int64_t y) { return x + y; }

// The next version of `column` (null: none yet) in which each of `users`
// (sorted, unique) takes value_of(user); nullopt drops the user.
template <typename T, typename ValueOf>
std::shared_ptr<const sdk::UserColumn<T>> replace_users(const std::shared_ptr<const sdk::UserColumn<T>>& column,
                                                        const std::vector<UserIndex>& users, ValueOf value_of) {
  std::vector<std::pair<UserIndex, std::optional<T>>> updates;
  updates.reserve(users.size());
  for (UserIndex u : users) updates.emplace_back(u, value_of(u));
  const sdk::UserColumn<T> empty;
  return apply_updates(column ? *column : empty, updates, [](const T*, const std::optional<T>& v) { return v; });
}

// Sorted, unique users.
void sort_unique(std::vector<UserIndex>& users) {
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
}

}  // namespace

EventStore::EventStore() : users_(std::make_shared<UserDirectory>()), last_(std::make_shared<Index>()) {}

EventStore::Hash128 EventStore::content_hash(const Event& e) {
  auto feed = [&e](Hasher& h) {
    h.num(static_cast<std::uint64_t>(e.type));
    h.num(static_cast<std::uint64_t>(e.time));
    h.bytes(e.user);
    h.num(static_cast<std::uint64_t>(e.source_kind));
    for (const std::string* s : {&e.source, &e.step, &e.variant, &e.channel, &e.action, &e.alias, &e.variation,
                                 &e.flag, &e.subscription_group, &e.keyword_category})
      h.bytes(*s);
    h.num(static_cast<std::uint64_t>(e.conversion_event));
    h.num(e.enabled);
    // An object's keys have no order (RFC 8259): hash attributes by name.
    std::vector<const std::pair<std::string, std::optional<sdk::AttributeValue>>*> attrs;
    for (const auto& a : e.attributes) attrs.push_back(&a);
    std::sort(attrs.begin(), attrs.end(), [](const auto* x, const auto* y) { return x->first < y->first; });
    for (const auto* a : attrs) {
      const auto& [name, v] = *a;
      h.bytes(name);
      if (!v) {
        h.num(0);
        continue;
      }
      h.num(1 + static_cast<std::uint64_t>(v->type));
      h.bytes(v->text);
      std::uint64_t bits;
      std::memcpy(&bits, &v->number, sizeof bits);
      h.num(bits);
      h.num(v->boolean);
    }
  };
  Hasher a{0xcbf29ce484222325ULL}, b{0x84222325cbf29ce4ULL};
  feed(a);
  feed(b);
  return {a.done(), b.done()};
}

std::string EventStore::key_of(const Hash128& h) {
  std::string key(16, '\0');
  std::memcpy(key.data(), &h.a, 8);
  std::memcpy(key.data() + 8, &h.b, 8);
  return key;
}

template <typename T, typename Combine>
void EventStore::push(Column<T>& c, UserIndex u, T value, Combine combine) {
  c.pending.emplace_back(u, value);
  // Fold when the pending updates are worth a pass over the column: the
  // merge costs O(touched chunks), so this keeps ingest O(1) amortised per
  // event and bounds the pending memory by the column's size.
  if (c.pending.size() >= std::max<std::size_t>(std::size_t{1} << 16, c.state->size() / 2)) fold(c, combine);
}

template <typename T, typename Combine>
void EventStore::fold(Column<T>& c, Combine combine) {
  if (c.pending.empty()) return;
  reduce_by_user(c.pending, combine);
  c.state = apply_updates(*c.state, c.pending,
                          [&](const T* old, T v) -> std::optional<T> { return old ? combine(*old, v) : v; });
  c.pending.clear();
  c.changed = true;
}

void EventStore::touch_max(TimeColumn& c, UserIndex u, Timestamp t) { push(c, u, t, later); }

// Finds (or adds) a column by key without allocating when it exists.
template <typename Map>
static auto& column_at(Map& m, const std::string& key) {
  auto it = m.find(key);
  return it != m.end() ? it->second : m[key];
}

void EventStore::fact(const Event& e, UserIndex u, FactKind kind, std::string_view step, std::string_view detail) {
  key_buf_.clear();
  append_fact_key(key_buf_, e.source_kind, e.source, kind, step, detail);
  touch_max(column_at(current_source_->facts, key_buf_), u, e.time);
}

const EventStore::SourceAnalytics* EventStore::analytics(const std::string& key) const {
  auto it = analytics_.find(key);
  return it == analytics_.end() ? nullptr : &it->second;
}

EventStore::SourceStats EventStore::source_stats(const std::string& key) const {
  auto it = sources_.find(key);
  return it == sources_.end() ? SourceStats{} : it->second.stats;
}

void EventStore::set_archived(const std::string& key, bool archived) {
  SourceData& s = sources_[key];
  if (s.stats.archived == archived) return;
  s.stats.archived = archived;
  s.republish = true;
}

void EventStore::erase_source(const std::string& key) {
  SourceData& s = sources_[key];
  for (auto& [k, c] : s.facts) {
    c.pending.clear();
    c.state = std::make_shared<const sdk::UserColumn<Timestamp>>();
    c.changed = true;
  }
  s.stats.records = 0;
  s.republish = true;
}

std::vector<std::string> EventStore::source_keys() const {
  std::vector<std::string> keys;
  for (const auto& [k, s] : sources_) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

void EventStore::summary(UserIndex u, Timestamp t, SummaryKind kind, std::string_view a, std::string_view b) {
  key_buf_.clear();
  append_summary_key(key_buf_, kind, a, b);
  touch_max(column_at(summaries_, key_buf_), u, t);
}

EventStore::Hash128 EventStore::hash_in_key(std::string_view key) {
  Hash128 h;
  std::memcpy(&h.a, key.data() + key.size() - 16, 8);
  std::memcpy(&h.b, key.data() + key.size() - 8, 8);
  return h;
}

bool EventStore::add_hashed(const Event& e, const Catalog& catalog, const Hash128& hash) {
  if (!seen_.insert(hash)) return false;
  UserIndex u = users_->intern(e.user);
  if (is_interaction_event(e.type)) {
    key_buf_.clear();
    append_source_key(key_buf_, e.source_kind, e.source);
    current_source_ = &column_at(sources_, key_buf_);
    SourceStats& stats = current_source_->stats;
    ++stats.records;
    if (e.type == EventType::kReceived && e.time > stats.last_sent) stats.last_sent = e.time;
    SourceAnalytics& a = column_at(analytics_, key_buf_);
    switch (e.type) {
      case EventType::kReceived:
        ++a.sends;
        a.recipients.add(u);
        break;
      case EventType::kInteraction:
        if (e.action == "opened_email" || e.action == "opened_email_machine" || e.action == "opened_push") ++a.opens;
        if (e.action == "clicked_email" || e.action == "clicked_in_app" || e.action == "clicked_sms" ||
            e.action == "clicked_content_card")
          ++a.clicks;
        break;
      case EventType::kConverted:
        if (e.conversion_event == 0) ++a.conversions;
        break;
      case EventType::kControl:
        a.control.add(u);
        break;
      case EventType::kCanvasEntered: {
        const Canvas* canvas = catalog.canvas(e.source);
        const NamedId* v = canvas ? canvas->variation(e.variation) : nullptr;
        if (v && v->control) a.control.add(u);
        break;
      }
      default:
        break;
    }
  }

  switch (e.type) {
    case EventType::kReceived:
      // Per source (and per step) facts: interaction data, subject to expiry.
      fact(e, u, FactKind::kReceived, "", "");
      if (!e.step.empty()) fact(e, u, FactKind::kReceived, e.step, "");
      if (!e.variant.empty()) fact(e, u, FactKind::kReceivedVariant, "", e.variant);
      // Profile summaries: never expire.
      summary(u, e.time, SummaryKind::kLastReceived, "");
      summary(u, e.time, SummaryKind::kLastReceived, e.channel);
      break;
    case EventType::kInteraction:
      fact(e, u, FactKind::kInteraction, "", e.action);
      if (!e.step.empty()) fact(e, u, FactKind::kInteraction, e.step, e.action);
      if (!e.alias.empty()) {
        fact(e, u, FactKind::kClickedAlias, "", e.alias);
        if (!e.step.empty()) fact(e, u, FactKind::kClickedAlias, e.step, e.alias);
        summary(u, e.time, SummaryKind::kLastClickedAlias, e.alias);
      }
      summary(u, e.time, SummaryKind::kLastInteraction, "");
      summary(u, e.time, SummaryKind::kLastInteraction, e.action);
      break;
    case EventType::kConverted:
      fact(e, u, FactKind::kConverted, "", std::to_string(e.conversion_event));
      break;
    case EventType::kControl:
      fact(e, u, FactKind::kControl, "", "");
      summary(u, e.time, SummaryKind::kLastControlEnrolled);
      break;
    case EventType::kCanvasEntered: {
      fact(e, u, FactKind::kCanvasEntered, "", "");
      fact(e, u, FactKind::kCanvasEntered, "", e.variation);
      const Canvas* canvas = catalog.canvas(e.source);
      const NamedId* variation = canvas ? canvas->variation(e.variation) : nullptr;
      if (variation && variation->control) summary(u, e.time, SummaryKind::kLastControlEnrolled);
      break;
    }
    case EventType::kCanvasExited:
      fact(e, u, FactKind::kCanvasExited, "", "");
      break;
    case EventType::kHardBounce:
      summary(u, e.time, SummaryKind::kFlag, "hard_bounced");
      break;
    case EventType::kSpamReport:
      summary(u, e.time, SummaryKind::kFlag, "marked_spam");
      break;
    case EventType::kInvalidPhone:
      summary(u, e.time, SummaryKind::kFlag, "invalid_phone");
      break;
    case EventType::kFeatureFlag: {
      auto& states = feature_flags_[e.flag];
      FlagState next{e.time, e.seq, e.enabled};
      auto [it, inserted] = states.emplace(u, next);
      if (!inserted && std::tie(e.time, e.seq) >= std::tie(it->second.time, it->second.seq)) it->second = next;
      dirty_flag_users_[e.flag].push_back(u);
      break;
    }
    case EventType::kNewsFeedView:
      summary(u, e.time, SummaryKind::kLastNewsFeedView);
      push(news_feed_views_, u, std::int64_t{1}, add_counts);
      break;
    case EventType::kSmsInbound:
      summary(u, e.time, SummaryKind::kLastSmsInbound, e.subscription_group, e.keyword_category);
      break;
    case EventType::kAttributes:
      for (const auto& [name, value] : e.attributes) {
        Latest& cur = attributes_[name][u];
        // An older state that arrives late changes nothing; on equal times the later ingest wins.
        if (cur.time != sdk::kNoTime && std::tie(e.time, e.seq) < std::tie(cur.time, cur.seq)) continue;
        cur.time = e.time;
        cur.seq = e.seq;
        cur.present = value.has_value();
        if (value) cur.value = *value;
        dirty_attribute_users_[name].push_back(u);
      }
      break;
  }
  return true;
}

std::shared_ptr<const Index> EventStore::snapshot() {
  // Every step below costs O(what changed since the last snapshot), never O(users).
  auto next = std::make_shared<Index>(*last_);
  next->users_ = users_;  // shared and append-only: the count bounds what this snapshot sees
  next->user_count_ = users_->size();
  for (auto& [skey, source] : sources_) {
    bool live = !source.stats.archived;
    if (live) {
      next->expired_sources_.erase(skey);
      next->expired_users_.erase(skey);
    } else {
      next->expired_sources_.insert(skey);
    }
    bool hidden_changed = !live && source.republish;
    for (auto& [key, c] : source.facts) {
      if (!live && (c.changed || !c.pending.empty())) hidden_changed = true;
      fold(c, later);  // archived sources keep absorbing new events, never published
      if (!live) {
        if (source.republish) next->facts_.erase(key);
        continue;
      }
      if (c.changed || source.republish) {
        if (c.state->empty()) next->facts_.erase(key);
        else next->facts_[key] = c.state;
      }
      c.changed = false;
    }
    if (hidden_changed) {
      // Who has data in the hidden source: the users of all its columns.
      auto users = std::make_shared<Roaring>();
      for (auto& [key, c] : source.facts) {
        c.changed = false;
        c.state->for_each([&](UserIndex u, sdk::Timestamp) { users->add(u); });
      }
      users->runOptimize();
      next->expired_users_[skey] = std::move(users);
    }
    source.republish = false;
  }
  for (auto& [key, c] : summaries_) {
    fold(c, later);
    if (c.changed) next->summaries_[key] = c.state, c.changed = false;
  }
  fold(news_feed_views_, add_counts);
  if (news_feed_views_.changed) next->news_feed_views_ = news_feed_views_.state, news_feed_views_.changed = false;
  // Feature flags: the published column holds the users whose latest state is
  // enabled (time = that state's time); only the changed users are looked up.
  for (auto& [flag, users] : dirty_flag_users_) {
    sort_unique(users);
    const auto& states = feature_flags_[flag];
    auto& column = next->summaries_[summary_key_string(SummaryKind::kFeatureFlagEnabled, flag, "")];
    column = replace_users(column, users, [&](UserIndex u) {
      const FlagState& st = states.at(u);
      return st.enabled ? std::optional<Timestamp>(st.time) : std::nullopt;
    });
  }
  dirty_flag_users_.clear();
  for (auto& [name, users] : dirty_attribute_users_) {
    sort_unique(users);
    const auto& latest = attributes_[name];
    auto& column = next->attributes_[name];
    column = replace_users(column, users, [&](UserIndex u) {
      const Latest& l = latest.at(u);
      return l.present ? std::optional<sdk::AttributeValue>(l.value) : std::nullopt;
    });
  }
  dirty_attribute_users_.clear();
  last_ = next;
  return next;
}

}  // namespace retarget
