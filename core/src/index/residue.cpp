#include "index/residue.hpp"

#include "common/bytes.hpp"
#include "index/derive.hpp"
#include "index/index.hpp"

namespace retarget {

std::uint32_t ResidueBuilder::user(const std::string& id) {
  auto [it, added] = numbers_.try_emplace(id, static_cast<std::uint32_t>(r_.users.size()));
  if (added) r_.users.push_back(id);
  return it->second;
}

void ResidueBuilder::add(const Event& e, const HashSet128::Key& hash, const Catalog& catalog) {
  ++r_.events;
  r_.hashes.push_back(hash);
  std::uint32_t u = user(e.user);
  if (e.type == EventType::kReceived && e.time > r_.last_sent) r_.last_sent = e.time;
  struct Into {
    ResidueBuilder& b;
    const Event& e;
    std::uint32_t u;
    void fact(sdk::FactKind, std::string_view, std::string_view) {}  // the interaction data: gone
    void summary(sdk::SummaryKind kind, std::string_view x, std::string_view y) {
      std::int64_t& t = b.r_.summaries[summary_key_string(kind, x, y)].try_emplace(u, e.time).first->second;
      if (e.time > t) t = e.time;
    }
    void analytics(AnalyticsEffect effect) {
      switch (effect) {
        case AnalyticsEffect::kSend:
          ++b.r_.sends;
          if (b.recipients_.emplace(u, true).second) b.r_.recipients.push_back(u);
          break;
        case AnalyticsEffect::kOpen:
          ++b.r_.opens;
          break;
        case AnalyticsEffect::kClick:
          ++b.r_.clicks;
          break;
        case AnalyticsEffect::kConversion:
          ++b.r_.conversions;
          break;
        case AnalyticsEffect::kControl:
          if (b.control_.emplace(u, true).second) b.r_.control.push_back(u);
          break;
      }
    }
  } into{*this, e, u};
  derive(e, catalog, into);
}

std::string encode_residue(const Residue& r) {
  std::string out;
  put_le<std::uint32_t>(out, 1);
  put_string(out, r.source);
  put_le<std::uint64_t>(out, r.events);
  put_varint(out, r.hashes.size());
  for (const auto& h : r.hashes) put_le(out, h.a), put_le(out, h.b);
  put_varint(out, r.users.size());
  for (const auto& u : r.users) put_string(out, u);
  for (std::uint64_t n : {r.sends, r.opens, r.clicks, r.conversions}) put_le<std::uint64_t>(out, n);
  put_le<std::int64_t>(out, r.last_sent);
  for (const auto* set : {&r.recipients, &r.control}) {
    put_varint(out, set->size());
    for (std::uint32_t u : *set) put_le(out, u);
  }
  put_varint(out, r.summaries.size());
  for (const auto& [column, times] : r.summaries) {
    put_string(out, column);
    put_varint(out, times.size());
    for (const auto& [u, t] : times) put_le(out, u), put_le(out, t);
  }
  return out;
}

bool decode_residue(std::string_view bytes, Residue& r) {
  ByteReader in(bytes);
  r = Residue{};
  if (in.le<std::uint32_t>() != 1) return false;
  r.source = in.string();
  r.events = in.le<std::uint64_t>();
  std::uint64_t n = in.count(16);
  for (std::uint64_t i = 0; i < n && in.ok; ++i) {
    HashSet128::Key h;
    h.a = in.le<std::uint64_t>(), h.b = in.le<std::uint64_t>();
    r.hashes.push_back(h);
  }
  n = in.count(1);
  for (std::uint64_t i = 0; i < n && in.ok; ++i) r.users.push_back(in.string());
  for (std::uint64_t* v : {&r.sends, &r.opens, &r.clicks, &r.conversions}) *v = in.le<std::uint64_t>();
  r.last_sent = in.le<std::int64_t>();
  for (auto* set : {&r.recipients, &r.control}) {
    n = in.count(4);
    for (std::uint64_t i = 0; i < n && in.ok; ++i) {
      std::uint32_t u = in.le<std::uint32_t>();
      if (u >= r.users.size()) return false;
      set->push_back(u);
    }
  }
  n = in.count(2);
  for (std::uint64_t i = 0; i < n && in.ok; ++i) {
    auto& times = r.summaries[in.string()];
    std::uint64_t m = in.count(12);
    for (std::uint64_t j = 0; j < m && in.ok; ++j) {
      std::uint32_t u = in.le<std::uint32_t>();
      std::int64_t t = in.le<std::int64_t>();
      if (u >= r.users.size()) return false;
      times[u] = t;
    }
  }
  return in.ok && in.in.empty();
}

}  // namespace retarget
