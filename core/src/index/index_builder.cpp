#include "index/index_builder.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <tuple>

#include "index/column_codec.hpp"
#include "index/derive.hpp"

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

// Calls per_chunk(chunk, first, last) for each run of `updates` (sorted by
// user) that falls in one chunk.
template <typename Update, typename UserOf, typename F>
void for_each_chunk_run(const std::vector<Update>& updates, UserOf user_of, F&& per_chunk) {
  std::size_t i = 0;
  while (i < updates.size()) {
    std::uint32_t c = sdk::chunk_of(user_of(updates[i]));
    std::size_t j = i;
    while (j < updates.size() && sdk::chunk_of(user_of(updates[j])) == c) ++j;
    per_chunk(c, i, j);
    i = j;
  }
}

// The mutable chunk list of a column's next version.
template <typename Column>
auto chunks_of(const Column& c) {
  return c.chunks();
}
template <typename Chunks>
auto& slot(Chunks& chunks, std::uint32_t c) {
  if (chunks.size() <= c) chunks.resize(c + 1);
  return chunks[c];
}

}  // namespace

IndexBuilder::IndexBuilder() : users_(std::make_shared<UserDirectory>()), last_(std::make_shared<Index>()) {
  last_->users_ = users_;
}

IndexBuilder::Hash128 IndexBuilder::content_hash(const Event& e) {
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
    std::vector<const std::pair<std::string, std::optional<AttributeValue>>*> attrs;
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

std::string IndexBuilder::key_of(const Hash128& h) {
  std::string key(16, '\0');
  std::memcpy(key.data(), &h.a, 8);
  std::memcpy(key.data() + 8, &h.b, 8);
  return key;
}

IndexBuilder::Hash128 IndexBuilder::hash_in_key(std::string_view key) {
  Hash128 h;
  std::memcpy(&h.a, key.data() + key.size() - 16, 8);
  std::memcpy(&h.b, key.data() + key.size() - 8, 8);
  return h;
}

template <typename Tag>
void IndexBuilder::push(IntState<Tag>& c, UserIndex u, std::int64_t value, Combine combine) {
  c.pending.emplace_back(u, value);
  // Fold when the pending updates are worth a pass over the column: the
  // merge costs O(touched chunks), so this keeps ingest O(1) amortised per
  // event and bounds the pending memory by the column's size.
  if (c.pending.size() >= std::max<std::size_t>(std::size_t{1} << 16, c.state->size() / 2)) fold(c, combine);
}

template <typename Tag>
void IndexBuilder::fold(IntState<Tag>& c, Combine combine) {
  if (c.pending.empty()) return;
  auto& p = c.pending;
  // Commutative combines (max, sum): the sort need not be stable.
  std::sort(p.begin(), p.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::size_t out = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (out > 0 && p[out - 1].first == p[i].first)
      p[out - 1].second = combine == Combine::kMax ? std::max(p[out - 1].second, p[i].second)
                                                   : p[out - 1].second + p[i].second;
    else
      p[out++] = p[i];
  }
  p.resize(out);
  // Each touched chunk takes the changes into its delta (O(change)); a delta
  // that outgrows its block is merged into a new block.
  auto chunks = chunks_of(*c.state);
  std::vector<IntChange> changes;
  for_each_chunk_run(p, [](const auto& x) { return x.first; }, [&](std::uint32_t ci, std::size_t i, std::size_t j) {
    auto& chunk = slot(chunks, ci);
    changes.clear();
    for (std::size_t k = i; k < j; ++k) {
      std::uint32_t o = sdk::offset_in_chunk(p[k].first);
      auto before = chunk ? chunk->find(o) : std::nullopt;
      std::int64_t v = p[k].second;
      if (before) v = combine == Combine::kMax ? std::max(*before, v) : *before + v;
      if (before && *before == v) continue;  // changes nothing (an older time)
      changes.push_back({o, v, before.has_value()});
    }
    if (!changes.empty()) chunk = edit_chunk(chunk.get(), changes);
  });
  c.state = std::make_shared<const sdk::IntColumn<Tag>>(std::move(chunks));
  p.clear();
  c.changed = true;
  c.dirty = true;
}

void IndexBuilder::fold(AttributeState& a) {
  if (a.pending.empty()) return;
  auto& p = a.pending;
  std::sort(p.begin(), p.end(), [](const LatestUpdate& x, const LatestUpdate& y) {
    return std::tie(x.user, x.time, x.seq) < std::tie(y.user, y.time, y.seq);
  });
  std::size_t out = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (out > 0 && p[out - 1].user == p[i].user) p[out - 1] = std::move(p[i]);  // later (time, seq) wins
    else if (out++ != i) p[out - 1] = std::move(p[i]);  // (never a self-move: it would empty the text)
  }
  p.resize(out);
  // Per touched chunk: merge with the folded state. Everything folded was
  // ingested earlier, so a pending update wins on equal times.
  auto time_chunks = chunks_of(*a.times);
  auto value_chunks = chunks_of(*a.values);
  std::vector<IntChange> time_changes;
  std::vector<AttributeChange> value_changes;
  for_each_chunk_run(p, [](const LatestUpdate& x) { return x.user; }, [&](std::uint32_t ci, std::size_t i, std::size_t j) {
    auto& tc = slot(time_chunks, ci);
    auto& vc = slot(value_chunks, ci);
    time_changes.clear();
    value_changes.clear();
    for (std::size_t k = i; k < j; ++k) {
      std::uint32_t o = sdk::offset_in_chunk(p[k].user);
      auto t_before = tc ? tc->find(o) : std::nullopt;
      if (t_before && p[k].time < *t_before) continue;  // an older state that arrives late changes nothing
      time_changes.push_back({o, p[k].time, t_before.has_value()});
      bool had = vc && vc->find(o).has_value();
      if (!had && !p[k].value) continue;  // unsetting what was not set
      value_changes.push_back({o, std::move(p[k].value), had});
    }
    if (!time_changes.empty()) tc = edit_chunk(tc.get(), time_changes);
    if (!value_changes.empty()) vc = edit_chunk(vc.get(), value_changes);
  });
  a.times = std::make_shared<const sdk::UserTimes>(std::move(time_chunks));
  a.values = std::make_shared<const sdk::UserAttributes>(std::move(value_chunks));
  p.clear();
  a.changed = true;
  a.dirty = true;
}

void IndexBuilder::fold(FlagState& f) {
  if (f.pending.empty()) return;
  auto& p = f.pending;
  std::sort(p.begin(), p.end(), [](const LatestUpdate& x, const LatestUpdate& y) {
    return std::tie(x.user, x.time, x.seq) < std::tie(y.user, y.time, y.seq);
  });
  // One update per user (the last in (time, seq) order); a pending update
  // wins on equal times. `states` keeps time * 2 + enabled for every user
  // with a state; `enabled`, what readers see, the enabled users' times.
  std::size_t out = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (out > 0 && p[out - 1].user == p[i].user) p[out - 1] = std::move(p[i]);
    else if (out++ != i) p[out - 1] = std::move(p[i]);
  }
  p.resize(out);
  auto floor_div2 = [](std::int64_t s) { return s >= 0 ? s / 2 : -((-s + 1) / 2); };
  auto state_chunks = chunks_of(*f.states);
  auto enabled_chunks = chunks_of(*f.enabled);
  std::vector<IntChange> state_changes, enabled_changes;
  for_each_chunk_run(p, [](const LatestUpdate& x) { return x.user; }, [&](std::uint32_t ci, std::size_t i, std::size_t j) {
    auto& sc = slot(state_chunks, ci);
    auto& ec = slot(enabled_chunks, ci);
    state_changes.clear();
    enabled_changes.clear();
    for (std::size_t k = i; k < j; ++k) {
      std::uint32_t o = sdk::offset_in_chunk(p[k].user);
      bool enabled = p[k].value.has_value();
      std::int64_t state = p[k].time * 2 + (enabled ? 1 : 0);
      auto before = sc ? sc->find(o) : std::nullopt;
      if (before && p[k].time < floor_div2(*before)) continue;  // older state arriving late
      state_changes.push_back({o, state, before.has_value()});
      bool was_visible = ec && ec->find(o).has_value();
      if (enabled) enabled_changes.push_back({o, p[k].time, was_visible});
      else if (was_visible) enabled_changes.push_back({o, sdk::kNoTime, true});
    }
    if (!state_changes.empty()) sc = edit_chunk(sc.get(), state_changes);
    if (!enabled_changes.empty()) ec = edit_chunk(ec.get(), enabled_changes);
  });
  f.states = std::make_shared<const sdk::UserTimes>(std::move(state_chunks));
  f.enabled = std::make_shared<const sdk::UserTimes>(std::move(enabled_chunks));
  p.clear();
  f.changed = true;
  f.dirty = true;
}

// Finds (or adds) a column by key without allocating when it exists.
template <typename Map>
static auto& column_at(Map& m, const std::string& key) {
  auto it = m.find(key);
  return it != m.end() ? it->second : m[key];
}

void IndexBuilder::fact(const Event& e, UserIndex u, FactKind kind, std::string_view step, std::string_view detail) {
  key_buf_.clear();
  append_fact_key(key_buf_, e.source_kind, e.source, kind, step, detail);
  // While the base is being archived (or is archived), new facts go to the late part.
  auto& columns = current_source_->residence == SourceData::Residence::kResident ? current_source_->facts
                                                                                : current_source_->late;
  push(column_at(columns, key_buf_), u, e.time, Combine::kMax);
}

void IndexBuilder::summary(UserIndex u, Timestamp t, SummaryKind kind, std::string_view a, std::string_view b) {
  key_buf_.clear();
  append_summary_key(key_buf_, kind, a, b);
  push(column_at(summaries_, key_buf_), u, t, Combine::kMax);
}

const IndexBuilder::SourceAnalytics* IndexBuilder::analytics(const std::string& key) const {
  auto it = analytics_.find(key);
  return it == analytics_.end() ? nullptr : &it->second;
}

IndexBuilder::SourceStats IndexBuilder::source_stats(const std::string& key) const {
  auto it = sources_.find(key);
  return it == sources_.end() ? SourceStats{} : it->second.stats;
}

void IndexBuilder::set_archived(const std::string& key, bool archived) {
  SourceData& s = sources_[key];
  if (s.stats.archived == archived) return;
  s.stats.archived = archived;
  s.republish = true;
}

void IndexBuilder::erase_source(const std::string& key) {
  SourceData& s = sources_[key];
  for (auto* part : {&s.facts, &s.late})
    for (auto& [k, c] : *part) {
      c.pending.clear();
      c.state = std::make_shared<const sdk::UserTimes>();
      c.changed = c.dirty = true;
    }
  s.archived_users = nullptr;
  s.residence = SourceData::Residence::kResident;
  if (!s.stats.deleted) s.stats.unpurged += s.stats.records;
  s.stats.deleted = true;
  s.stats.records = 0;
  s.republish = s.dirty = true;
}

void IndexBuilder::revive_source(const std::string& key) {
  SourceData& s = sources_[key];
  s.stats.deleted = false;
  s.republish = s.dirty = true;
}

std::map<std::string, std::uint64_t> IndexBuilder::unpurged_sources() const {
  std::map<std::string, std::uint64_t> out;
  for (const auto& [k, s] : sources_)
    if (s.stats.unpurged > 0) out[k] = s.stats.unpurged;
  return out;
}

std::vector<std::string> IndexBuilder::source_keys() const {
  std::vector<std::string> keys;
  for (const auto& [k, s] : sources_) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

bool IndexBuilder::add_replayed(const Event& e, const Catalog& catalog, const Hash128& hash) {
  // Unique when logged: the set only records it (it may not be loaded yet).
  seen_.insert(hash);
  new_hashes_.push_back(hash);
  apply(e, catalog);
  return true;
}

bool IndexBuilder::add_hashed(const Event& e, const Catalog& catalog, const Hash128& hash) {
  if (!seen_.insert(hash)) return false;
  new_hashes_.push_back(hash);
  apply(e, catalog);
  return true;
}

void IndexBuilder::apply(const Event& e, const Catalog& catalog) {
  UserIndex u = users_->intern(e.user);
  SourceAnalytics* analytics = nullptr;
  if (is_interaction_event(e.type)) {
    key_buf_.clear();
    append_source_key(key_buf_, e.source_kind, e.source);
    current_source_ = &column_at(sources_, key_buf_);
    current_source_->dirty = true;
    current_source_->analytics_dirty = true;
    SourceStats& stats = current_source_->stats;
    // A source deleted under the legacy policy keeps no interaction data (a
    // new event revives it first: revive_source).
    if (!stats.deleted) ++stats.records;
    if (e.type == EventType::kReceived && e.time > stats.last_sent) stats.last_sent = e.time;
    analytics = &column_at(analytics_, key_buf_);
  }
  struct Into {
    IndexBuilder& b;
    const Event& e;
    UserIndex u;
    SourceAnalytics* a;
    void fact(FactKind kind, std::string_view step, std::string_view detail) {
      if (!b.current_source_->stats.deleted) b.fact(e, u, kind, step, detail);
    }
    void summary(SummaryKind kind, std::string_view x, std::string_view y) { b.summary(u, e.time, kind, x, y); }
    void analytics(AnalyticsEffect effect) { add_effect(*a, effect, u); }
  } into{*this, e, u, analytics};
  derive(e, catalog, into);

  switch (e.type) {
    case EventType::kFeatureFlag: {
      FlagState& f = feature_flags_[e.flag];
      f.pending.push_back({u, e.time, e.seq, e.enabled ? std::optional<AttributeValue>(AttributeValue{}) : std::nullopt});
      if (f.pending.size() >= std::max<std::size_t>(std::size_t{1} << 16, f.states->size() / 2)) fold(f);
      break;
    }
    case EventType::kNewsFeedView:
      push(news_feed_views_, u, std::int64_t{1}, Combine::kSum);
      break;
    case EventType::kAttributes:
      for (const auto& [name, value] : e.attributes) {
        AttributeState& a = attributes_[name];
        a.pending.push_back({u, e.time, e.seq, value});
        if (a.pending.size() >= std::max<std::size_t>(std::size_t{1} << 16, a.times->size() / 2)) fold(a);
      }
      break;
    default:
      break;
  }
}

void IndexBuilder::apply_residue(const Residue& r) {
  std::vector<UserIndex> users;
  users.reserve(r.users.size());
  for (const auto& id : r.users) users.push_back(users_->intern(id));
  for (const auto& h : r.hashes)
    if (seen_.insert(h)) new_hashes_.push_back(h);
  SourceData& source = column_at(sources_, r.source);
  source.dirty = source.analytics_dirty = true;
  if (r.last_sent > source.stats.last_sent) source.stats.last_sent = r.last_sent;
  SourceAnalytics& a = column_at(analytics_, r.source);
  a.sends += r.sends, a.opens += r.opens, a.clicks += r.clicks, a.conversions += r.conversions;
  for (std::uint32_t i : r.recipients) a.recipients.add(users[i]);
  for (std::uint32_t i : r.control) a.control.add(users[i]);
  for (const auto& [column, times] : r.summaries) {
    auto& c = column_at(summaries_, column);
    for (const auto& [i, t] : times) push(c, users[i], t, Combine::kMax);
  }
}

void IndexBuilder::purged(const std::string& source_key, std::uint64_t events) {
  auto it = sources_.find(source_key);
  if (it == sources_.end()) return;
  SourceStats& stats = it->second.stats;
  stats.unpurged -= std::min(stats.unpurged, events);
  it->second.dirty = true;
}

namespace {

template <typename Column>
std::shared_ptr<const Column> compacted_column(const std::shared_ptr<const Column>& column, bool& changed) {
  auto chunks = column->chunks();
  bool any = false;
  for (auto& c : chunks)
    if (c && c->has_delta()) c = compacted(c), any = true;
  if (!any) return column;
  changed = true;
  return std::make_shared<const Column>(std::move(chunks));
}

}  // namespace

void IndexBuilder::compact() {
  for (auto& [skey, source] : sources_)
    for (auto& [key, c] : source.facts) {
      fold(c, Combine::kMax);
      c.state = compacted_column(c.state, c.changed);
    }
  for (auto& [key, c] : summaries_) {
    fold(c, Combine::kMax);
    c.state = compacted_column(c.state, c.changed);
  }
  fold(news_feed_views_, Combine::kSum);
  news_feed_views_.state = compacted_column(news_feed_views_.state, news_feed_views_.changed);
  for (auto& [flag, f] : feature_flags_) {
    fold(f);
    f.states = compacted_column(f.states, f.changed);
    f.enabled = compacted_column(f.enabled, f.changed);
  }
  for (auto& [name, a] : attributes_) {
    fold(a);
    a.times = compacted_column(a.times, a.changed);
    a.values = compacted_column(a.values, a.changed);
  }
}

std::shared_ptr<const Index> IndexBuilder::snapshot() {
  // Every step below costs O(what changed since the last snapshot), never O(users).
  auto next = std::make_shared<Index>(*last_);
  next->users_ = users_;  // shared and append-only: the count bounds what this snapshot sees
  next->user_count_ = users_->size();
  std::shared_ptr<InteractionIndex> interactions;  // copied on first change
  auto writable_interactions = [&]() -> InteractionIndex& {
    if (!interactions) interactions = std::make_shared<InteractionIndex>(*last_->interactions_);
    return *interactions;
  };
  for (auto& [skey, source] : sources_) {
    bool live = !source.stats.archived;
    if (live) {
      next->expired_sources_.erase(skey);
      next->expired_users_.erase(skey);
    } else {
      next->expired_sources_.insert(skey);
    }
    bool hidden_changed = !live && source.republish;
    for (auto& [key, c] : source.late) {
      if (c.changed || !c.pending.empty()) hidden_changed = true;
      fold(c, Combine::kMax);
    }
    for (auto& [key, c] : source.facts) {
      if (!live && (c.changed || !c.pending.empty())) hidden_changed = true;
      fold(c, Combine::kMax);  // archived sources keep absorbing new events, never published
      if (!live) {
        if (source.republish) writable_interactions().facts_.erase(key);
        continue;
      }
      if (c.changed || source.republish) {
        if (c.state->empty()) writable_interactions().facts_.erase(key);
        else writable_interactions().facts_[key] = c.state;
      }
      c.changed = false;
    }
    if (hidden_changed && !live) {
      // Who has data in the hidden source: the users of all its columns.
      auto users = std::make_shared<Roaring>();
      if (source.archived_users) *users |= *source.archived_users;
      for (auto* part : {&source.facts, &source.late})
        for (auto& [key, c] : *part) {
          c.changed = false;
          c.state->for_each([&](UserIndex u, std::int64_t) { users->add(u); });
        }
      users->runOptimize();
      next->expired_users_[skey] = std::move(users);
    }
    source.republish = false;
  }
  if (interactions) next->interactions_ = std::move(interactions);

  std::shared_ptr<ProfileIndex> profiles;
  auto writable_profiles = [&]() -> ProfileIndex& {
    if (!profiles) profiles = std::make_shared<ProfileIndex>(*last_->profiles_);
    return *profiles;
  };
  for (auto& [key, c] : summaries_) {
    fold(c, Combine::kMax);
    if (c.changed) writable_profiles().summaries_[key] = c.state, c.changed = false;
  }
  fold(news_feed_views_, Combine::kSum);
  if (news_feed_views_.changed)
    writable_profiles().news_feed_views_ = news_feed_views_.state, news_feed_views_.changed = false;
  for (auto& [flag, f] : feature_flags_) {
    fold(f);
    if (f.changed)
      writable_profiles().summaries_[summary_key_string(SummaryKind::kFeatureFlagEnabled, flag, "")] = f.enabled,
                                                                                                   f.changed = false;
  }
  for (auto& [name, a] : attributes_) {
    fold(a);
    if (a.changed) writable_profiles().attributes_[name] = a.values, a.changed = false;
  }
  if (profiles || last_->profiles_->user_count_ != users_->size()) {
    ProfileIndex& p = writable_profiles();
    p.users_ = users_;
    p.user_count_ = users_->size();
  }
  if (profiles) next->profiles_ = std::move(profiles);
  last_ = next;
  return next;
}

// --- persistence -------------------------------------------------------------------

BuilderImage IndexBuilder::capture(bool all) {
  BuilderImage img;
  img.users = users_;
  img.first_user = all ? 0 : users_captured_;
  img.end_user = users_->size();
  users_captured_ = img.end_user;
  using K = ColumnImage::Kind;
  auto take = [&](bool& dirty) {
    bool yes = all || dirty;
    dirty = false;
    return yes;
  };
  for (auto& [skey, source] : sources_) {
    for (auto& [key, c] : source.facts) {
      fold(c, Combine::kMax);
      if (take(c.dirty)) img.columns.push_back({K::kFact, skey, key, c.state, nullptr, nullptr});
    }
    for (auto& [key, c] : source.late) {
      fold(c, Combine::kMax);
      if (take(c.dirty)) img.columns.push_back({K::kLateFact, skey, key, c.state, nullptr, nullptr});
    }
    if (take(source.dirty))
      img.sources.push_back({skey, source.stats.records, source.stats.last_sent, source.stats.archived,
                             source.residence != SourceData::Residence::kArchived, source.stats.deleted,
                             source.stats.unpurged});
    if (take(source.analytics_dirty)) {
      auto it = analytics_.find(skey);
      if (it != analytics_.end()) img.analytics.emplace_back(skey, it->second);
    }
  }
  for (auto& [key, c] : summaries_) {
    fold(c, Combine::kMax);
    if (take(c.dirty)) img.columns.push_back({K::kSummary, "", key, c.state, nullptr, nullptr});
  }
  fold(news_feed_views_, Combine::kSum);
  if (take(news_feed_views_.dirty)) img.columns.push_back({K::kNewsFeed, "", "", nullptr, news_feed_views_.state, nullptr});
  for (auto& [name, a] : attributes_) {
    fold(a);
    if (take(a.dirty)) {
      img.columns.push_back({K::kAttributeValues, "", name, nullptr, nullptr, a.values});
      img.columns.push_back({K::kAttributeTimes, "", name, a.times, nullptr, nullptr});
    }
  }
  for (auto& [flag, f] : feature_flags_) {
    fold(f);
    if (take(f.dirty)) {
      img.columns.push_back({K::kFlagStates, "", flag, f.states, nullptr, nullptr});
      img.columns.push_back({K::kFlagEnabled, "", flag, f.enabled, nullptr, nullptr});
    }
  }
  img.new_hashes.swap(new_hashes_);
  if (all && dedup_loaded_) {
    // Everything: every stored hash, not only the new ones.
    img.new_hashes.clear();
    seen_.for_each([&](const Hash128& h) { img.new_hashes.push_back(h); });
    img.hashes_complete = true;
  }
  return img;
}

void IndexBuilder::mark_all_dirty() {
  users_captured_ = 0;
  for (auto& [skey, source] : sources_) {
    source.dirty = source.analytics_dirty = true;
    for (auto& [key, c] : source.facts) c.dirty = true;
    for (auto& [key, c] : source.late) c.dirty = true;
  }
  for (auto& [key, c] : summaries_) c.dirty = true;
  news_feed_views_.dirty = true;
  for (auto& [name, a] : attributes_) a.dirty = true;
  for (auto& [flag, f] : feature_flags_) f.dirty = true;
}

void IndexBuilder::install_user(std::shared_ptr<const void> owner, std::string_view id, std::uint16_t bucket) {
  users_->adopt(std::move(owner), id, bucket);
  users_captured_ = users_->size();
}

void IndexBuilder::install_column(const ColumnImage& c) {
  using K = ColumnImage::Kind;
  switch (c.kind) {
    case K::kFact: {
      auto& st = sources_[c.source].facts[c.key];
      st.state = c.times, st.changed = true, st.dirty = false;
      break;
    }
    case K::kLateFact: {
      SourceData& d = sources_[c.source];
      if (d.residence == SourceData::Residence::kArchived) {
        auto& st = d.late[c.key];
        st.state = c.times, st.changed = true, st.dirty = false;
      } else {
        // The archive it was waiting for never completed: one again with the base.
        auto& st = d.facts[c.key];
        c.times->for_each([&](UserIndex u, std::int64_t t) { st.pending.emplace_back(u, t); });
        st.changed = st.dirty = true;
      }
      break;
    }
    case K::kSummary: {
      auto& st = summaries_[c.key];
      st.state = c.times, st.changed = true, st.dirty = false;
      break;
    }
    case K::kNewsFeed:
      news_feed_views_.state = c.counts, news_feed_views_.changed = true, news_feed_views_.dirty = false;
      break;
    case K::kAttributeValues: {
      auto& a = attributes_[c.key];
      a.values = c.values, a.changed = true, a.dirty = false;
      break;
    }
    case K::kAttributeTimes: {
      auto& a = attributes_[c.key];
      a.times = c.times, a.changed = true, a.dirty = false;
      break;
    }
    case K::kFlagStates: {
      auto& f = feature_flags_[c.key];
      f.states = c.times, f.changed = true, f.dirty = false;
      break;
    }
    case K::kFlagEnabled: {
      auto& f = feature_flags_[c.key];
      f.enabled = c.times, f.changed = true, f.dirty = false;
      break;
    }
  }
}

void IndexBuilder::install_source(const SourceImage& s) {
  SourceData& d = sources_[s.key];
  d.stats.records = s.records;
  d.stats.last_sent = s.last_sent;
  d.stats.archived = s.archived;
  d.stats.deleted = s.deleted;
  d.stats.unpurged = s.unpurged;
  d.residence = s.resident ? SourceData::Residence::kResident : SourceData::Residence::kArchived;
  d.republish = true;
  d.dirty = false;
}

void IndexBuilder::install_analytics(const std::string& source_key, SourceAnalytics a) {
  analytics_[source_key] = std::move(a);
  sources_[source_key].analytics_dirty = false;
}

void IndexBuilder::set_dedup_loader(std::function<Status(HashSet128&)> loader, std::uint64_t persisted) {
  dedup_loader_ = std::move(loader);
  dedup_loaded_ = !dedup_loader_;
  persisted_hashes_ = persisted;
}

std::uint64_t IndexBuilder::event_count() const {
  return dedup_loaded_ ? seen_.size() : persisted_hashes_ + seen_.size();
}

Status IndexBuilder::ensure_dedup_loaded() {
  if (dedup_loaded_) return Status::Ok();
  Status s = dedup_loader_(seen_);
  if (s.ok()) dedup_loaded_ = true, dedup_loader_ = nullptr;
  return s;
}

std::vector<ColumnImage> IndexBuilder::source_columns(const std::string& key) {
  std::vector<ColumnImage> out;
  auto it = sources_.find(key);
  if (it == sources_.end()) return out;
  for (auto& [fact, c] : it->second.facts) {
    fold(c, Combine::kMax);
    if (!c.state->empty()) out.push_back({ColumnImage::Kind::kFact, key, fact, c.state, nullptr, nullptr});
  }
  return out;
}

std::vector<ColumnImage> IndexBuilder::begin_archive(const std::string& key) {
  SourceData& d = sources_[key];
  d.residence = SourceData::Residence::kArchiving;
  return source_columns(key);
}

void IndexBuilder::finish_archive(const std::string& key, std::shared_ptr<const Roaring> users) {
  SourceData& d = sources_[key];
  // The base is in the archive now: only the late part stays in memory.
  d.facts.clear();
  d.residence = SourceData::Residence::kArchived;
  d.archived_users = std::move(users);
  d.dirty = true;
  d.republish = true;
}

void IndexBuilder::abort_archive(const std::string& key) {
  SourceData& d = sources_[key];
  if (d.residence != SourceData::Residence::kArchiving) return;
  for (auto& [fact, late] : d.late) {
    fold(late, Combine::kMax);
    auto& base = d.facts[fact];
    late.state->for_each([&](UserIndex u, std::int64_t t) { base.pending.emplace_back(u, t); });
    base.changed = base.dirty = true;
  }
  d.late.clear();
  d.residence = SourceData::Residence::kResident;
  d.dirty = true;
}

void IndexBuilder::install_restored(const std::string& key, const std::vector<ColumnImage>& archived) {
  SourceData& d = sources_[key];
  for (const auto& col : archived) {
    IntState<sdk::TimeTag>& st = d.facts[col.key];
    fold(st, Combine::kMax);
    std::vector<std::pair<UserIndex, std::int64_t>> mine;
    st.state->for_each([&](UserIndex u, std::int64_t t) { mine.emplace_back(u, t); });
    st.state = col.times;
    st.pending = std::move(mine);
    st.changed = st.dirty = true;
  }
  // Late events join the base again (facts keep the latest time: order does not matter).
  for (auto& [fact, late] : d.late) {
    fold(late, Combine::kMax);
    auto& base = d.facts[fact];
    late.state->for_each([&](UserIndex u, std::int64_t t) { base.pending.emplace_back(u, t); });
    base.changed = base.dirty = true;
  }
  for (auto& [fact, st] : d.facts) fold(st, Combine::kMax);
  d.late.clear();
  d.archived_users = nullptr;
  d.residence = SourceData::Residence::kResident;
  d.republish = true;
  d.dirty = true;
}

bool IndexBuilder::source_columns_resident(const std::string& key) const {
  auto it = sources_.find(key);
  return it == sources_.end() || it->second.residence != SourceData::Residence::kArchived;
}

void IndexBuilder::set_archived_users(const std::string& key, std::shared_ptr<const Roaring> users) {
  SourceData& d = sources_[key];
  d.archived_users = std::move(users);
  d.republish = true;
}

Roaring IndexBuilder::source_users(const std::string& key) {
  Roaring users;
  auto it = sources_.find(key);
  if (it == sources_.end()) return users;
  if (it->second.archived_users) users |= *it->second.archived_users;
  for (auto* part : {&it->second.facts, &it->second.late})
    for (auto& [fact, c] : *part) {
      fold(c, Combine::kMax);
      c.state->for_each([&](UserIndex u, std::int64_t) { users.add(u); });
    }
  users.runOptimize();
  return users;
}

}  // namespace retarget
