#include "store/event_codec.hpp"

#include <cstring>

namespace retarget {
namespace {

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_fixed(std::string& out, std::uint64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  out.append(b, 8);
}
void put_string(std::string& out, const std::string& s) {
  put_varint(out, s.size());
  out.append(s);
}

struct Reader {
  std::string_view in;
  bool ok = true;
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in.empty()) return ok = false, 0;
      auto b = static_cast<unsigned char>(in[0]);
      in.remove_prefix(1);
      v |= std::uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  std::uint64_t fixed() {
    if (in.size() < 8) return ok = false, 0;
    std::uint64_t v;
    std::memcpy(&v, in.data(), 8);
    in.remove_prefix(8);
    return v;
  }
  std::uint8_t byte() {
    if (in.empty()) return ok = false, 0;
    auto b = static_cast<std::uint8_t>(in[0]);
    in.remove_prefix(1);
    return b;
  }
  std::string string() {
    std::uint64_t n = varint();
    if (!ok || n > in.size()) return ok = false, std::string();
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

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
