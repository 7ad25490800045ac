#include "store/event_codec.hpp"

#include <cstring>

#include "common/bytes.hpp"

namespace retarget {
namespace {

void put_fixed(std::string& out, std::uint64_t v) { put_le(out, v); }
using Reader = ByteReader;

}  // namespace

void encode_event(const Event& e, std::string& out) {
  out.clear();
  out.push_back(1);  // format version
  out.push_back(static_cast<char>(e.type));
  put_fixed(out, static_cast<std::uint64_t>(e.time));
  put_varint(out, e.seq);
  put_string(out, e.user);
  out.push_back(static_cast<char>(e.source_kind));
  for (const std::string* s : {&e.source, &e.step, &e.variant, &e.channel, &e.action, &e.alias, &e.variation,
                               &e.flag, &e.subscription_group, &e.keyword_category})
    put_string(out, *s);
  put_fixed(out, static_cast<std::uint64_t>(e.conversion_event));
  out.push_back(e.enabled ? 1 : 0);
  put_varint(out, e.attributes.size());
  for (const auto& [name, v] : e.attributes) {
    put_string(out, name);
    out.push_back(v ? 1 : 0);
    if (!v) continue;
    out.push_back(static_cast<char>(v->type));
    put_string(out, v->text);
    std::uint64_t bits;
    std::memcpy(&bits, &v->number, 8);
    put_fixed(out, bits);
    out.push_back(v->boolean ? 1 : 0);
    put_fixed(out, static_cast<std::uint64_t>(v->time));
  }
}

bool decode_event(std::string_view in, Event& e) {
  Reader r{in};
  if (r.byte() != 1) return false;
  e = Event{};
  std::uint8_t type = r.byte();
  if (type > static_cast<std::uint8_t>(EventType::kAttributes)) return false;
  e.type = static_cast<EventType>(type);
  e.time = static_cast<sdk::Timestamp>(r.fixed());
  e.seq = r.varint();
  e.user = r.string();
  std::uint8_t kind = r.byte();
  if (kind > 1) return false;
  e.source_kind = static_cast<sdk::SourceKind>(kind);
  for (std::string* s : {&e.source, &e.step, &e.variant, &e.channel, &e.action, &e.alias, &e.variation, &e.flag,
                         &e.subscription_group, &e.keyword_category})
    *s = r.string();
  e.conversion_event = static_cast<std::int64_t>(r.fixed());
  e.enabled = r.byte() != 0;
  std::uint64_t n = r.varint();
  if (!r.ok || n > in.size()) return false;
  for (std::uint64_t i = 0; i < n && r.ok; ++i) {
    std::string name = r.string();
    if (!r.byte()) {
      e.attributes.emplace_back(std::move(name), std::nullopt);
      continue;
    }
    AttributeValue v;
    std::uint8_t t = r.byte();
    if (t > 2) return false;
    v.type = static_cast<AttributeValue::Type>(t);
    v.text = r.string();
    std::uint64_t bits = r.fixed();
    std::memcpy(&v.number, &bits, 8);
    v.boolean = r.byte() != 0;
    v.time = static_cast<sdk::Timestamp>(r.fixed());
    e.attributes.emplace_back(std::move(name), std::move(v));
  }
  return r.ok && r.in.empty();
}

void encode_event_batch(const std::vector<Event>& events, const std::vector<HashSet128::Key>& hashes,
                        std::int64_t at, std::string& out) {
  out.clear();
  auto put = [&](const auto& v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(std::uint32_t{1});
  put(at);
  put(static_cast<std::uint32_t>(events.size()));
  std::string one;
  for (std::size_t i = 0; i < events.size(); ++i) {
    encode_event(events[i], one);
    put(hashes[i].a);
    put(hashes[i].b);
    put(static_cast<std::uint32_t>(one.size()));
    out += one;
  }
}

bool decode_event_batch(std::string_view in, std::int64_t& at,
                        const std::function<void(const Event&, const HashSet128::Key&)>& f) {
  auto get = [&](auto& v) {
    if (in.size() < sizeof v) return false;
    std::memcpy(&v, in.data(), sizeof v);
    in.remove_prefix(sizeof v);
    return true;
  };
  std::uint32_t format = 0, count = 0;
  if (!get(format) || format != 1 || !get(at) || !get(count)) return false;
  Event e;
  for (std::uint32_t i = 0; i < count; ++i) {
    HashSet128::Key h;
    std::uint32_t len = 0;
    if (!get(h.a) || !get(h.b) || !get(len) || in.size() < len) return false;
    if (!decode_event(in.substr(0, len), e)) return false;
    in.remove_prefix(len);
    f(e, h);
  }
  return in.empty();
}

}  // namespace retarget
