#include "store/event_store.hpp"

#include <algorithm>
#include <cstring>
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

template <typename T>
std::shared_ptr<const sdk::UserColumn<T>> build_column(const std::unordered_map<UserIndex, T>& values) {
  std::vector<std::pair<UserIndex, T>> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<UserIndex> users;
  std::vector<T> vals;
  users.reserve(sorted.size());
  vals.reserve(sorted.size());
  for (auto& [u, v] : sorted) {
    users.push_back(u);
    vals.push_back(std::move(v));
  }
  return std::make_shared<const sdk::UserColumn<T>>(std::move(users), std::move(vals));
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

std::string EventStore::content_key(const Event& e) {
  Hash128 h = content_hash(e);
  std::string key(16, '\0');
  std::memcpy(key.data(), &h.a, 8);
  std::memcpy(key.data() + 8, &h.b, 8);
  return key;
}

bool EventStore::touch_max(std::unordered_map<std::string, Builder<Timestamp>>& m, const std::string& key,
                           UserIndex u, Timestamp t) {
  auto& b = m[key];
  auto [it, inserted] = b.values.emplace(u, t);
  if (inserted || t > it->second) {
    it->second = t;
    b.dirty = true;
    return true;
  }
  return false;
}

void EventStore::fact(const Event& e, UserIndex u, FactKind kind, std::string_view step, std::string_view detail) {
  sdk::FactKey key{e.source_kind, e.source, kind, std::string(step), std::string(detail)};
  touch_max(sources_[source_key(e.source_kind, e.source)].facts, fact_key_string(key), u, e.time);
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
  for (auto& [k, b] : s.facts) b.values.clear();
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
  touch_max(summaries_, summary_key_string(kind, a, b), u, t);
}

EventStore::Hash128 EventStore::from_key(const std::string& key) {
  Hash128 h{0, 0};
  if (key.size() == 16) {
    std::memcpy(&h.a, key.data(), 8);
    std::memcpy(&h.b, key.data() + 8, 8);
  }
  return h;
}

bool EventStore::add_hashed(const Event& e, const Catalog& catalog, const Hash128& hash) {
  if (!seen_.insert(hash).second) return false;
  std::uint32_t before = users_->size();
  UserIndex u = users_->intern(e.user);
  if (users_->size() != before) users_dirty_ = true;
  if (is_interaction_event(e.type)) {
    std::string skey = source_key(e.source_kind, e.source);
    SourceStats& stats = sources_[skey].stats;
    ++stats.records;
    if (e.type == EventType::kReceived && e.time > stats.last_sent) stats.last_sent = e.time;
    SourceAnalytics& a = analytics_[skey];
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
      dirty_flags_.insert(e.flag);
      break;
    }
    case EventType::kNewsFeedView:
      summary(u, e.time, SummaryKind::kLastNewsFeedView);
      ++news_feed_views_.values[u];
      news_feed_views_.dirty = true;
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
        dirty_attributes_.insert(name);
      }
      break;
  }
  return true;
}

std::shared_ptr<const Index> EventStore::snapshot() {
  auto next = std::make_shared<Index>(*last_);
  if (users_dirty_) {
    next->users_ = std::make_shared<const UserDirectory>(*users_);
    users_dirty_ = false;
  }
  next->user_count_ = users_->size();
  for (auto& [skey, source] : sources_) {
    bool live = !source.stats.archived;
    if (live) next->expired_sources_.erase(skey);
    else next->expired_sources_.insert(skey);
    for (auto& [key, b] : source.facts) {
      if (!live) {
        // Long-term tier: never published; builders keep absorbing new events.
        if (source.republish) next->facts_.erase(key);
        continue;
      }
      if (b.dirty || source.republish) {
        if (b.values.empty()) next->facts_.erase(key);
        else next->facts_[key] = build_column(b.values);
        b.dirty = false;
      }
    }
    source.republish = false;
  }
  for (auto& [key, b] : summaries_)
    if (b.dirty) next->summaries_[key] = build_column(b.values), b.dirty = false;
  for (const auto& flag : dirty_flags_) {
    std::unordered_map<UserIndex, Timestamp> enabled;
    for (const auto& [u, state] : feature_flags_[flag])
      if (state.enabled) enabled.emplace(u, state.time);
    next->summaries_[summary_key_string(SummaryKind::kFeatureFlagEnabled, flag, "")] = build_column(enabled);
  }
  dirty_flags_.clear();
  if (news_feed_views_.dirty) {
    next->news_feed_views_ = build_column(news_feed_views_.values);
    news_feed_views_.dirty = false;
  }
  for (const auto& name : dirty_attributes_) {
    std::unordered_map<UserIndex, sdk::AttributeValue> current;
    for (const auto& [u, latest] : attributes_[name])
      if (latest.present) current.emplace(u, latest.value);
    next->attributes_[name] = build_column(current);
  }
  dirty_attributes_.clear();
  last_ = next;
  return next;
}

}  // namespace retarget
