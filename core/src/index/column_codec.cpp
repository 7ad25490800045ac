#include "index/column_codec.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cassert>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_map>

namespace retarget {
namespace {

using sdk::ValueBlockHeader;
constexpr std::uint64_t kUniverse = sdk::kChunkUsers;

// Appends `width`-bit values to a word array.
class BitWriter {
 public:
  BitWriter(std::uint64_t* words) : words_(words) {}
  void put(std::uint64_t v, unsigned width) {
    if (width == 0) return;
    std::uint64_t w = pos_ >> 6;
    unsigned shift = static_cast<unsigned>(pos_ & 63);
    words_[w] |= v << shift;
    if (shift + width > 64) words_[w + 1] |= v >> (64 - shift);
    pos_ += width;
  }

 private:
  std::uint64_t* words_;
  std::uint64_t pos_ = 0;
};

struct Layout {
  ValueBlockHeader header{};
  std::size_t words = 0;
};

Layout layout_for(std::span<const std::uint32_t> offsets, std::span<const std::int64_t> values) {
  Layout l;
  auto& h = l.header;
  const std::uint64_t n = offsets.size();
  h.count = static_cast<std::uint32_t>(n);
  h.min_value = values[0];
  h.max_value = values[0];
  for (std::int64_t v : values) {
    h.min_value = std::min(h.min_value, v);
    h.max_value = std::max(h.max_value, v);
  }
  std::uint64_t span = static_cast<std::uint64_t>(h.max_value) - static_cast<std::uint64_t>(h.min_value);
  h.value_bits = static_cast<std::uint8_t>(span == 0 ? 0 : std::bit_width(span));
  // Elias-Fano: low bits = floor(log2(universe / n)); the high parts in unary.
  unsigned low = kUniverse / n >= 2 ? static_cast<unsigned>(std::bit_width(kUniverse / n) - 1) : 0;
  std::uint64_t ef_bits = n * low + n + (kUniverse >> low) + 1;
  if (ef_bits < kUniverse) {
    h.user_coding = ValueBlockHeader::kEliasFano;
    h.low_bits = static_cast<std::uint8_t>(low);
    h.low_words = static_cast<std::uint32_t>(sdk::bits::words_for(n * low));
    h.high_words = static_cast<std::uint32_t>(sdk::bits::words_for(n + (kUniverse >> low) + 1));
  } else {
    h.user_coding = ValueBlockHeader::kBitmap;
    h.low_bits = 0;
    h.low_words = 0;
    h.high_words = sdk::kChunkWords;
  }
  l.words = sdk::kValueBlockHeaderWords + h.low_words + h.high_words + sdk::bits::words_for(n * h.value_bits) + 1;
  return l;
}

void write_block(const Layout& l, std::span<const std::uint32_t> offsets, std::span<const std::int64_t> values,
                 std::uint64_t* words) {
  const auto& h = l.header;
  std::memset(words, 0, l.words * 8);
  std::memcpy(words, &h, sizeof h);
  std::uint64_t* lows = words + sdk::kValueBlockHeaderWords;
  std::uint64_t* highs = lows + h.low_words;
  std::uint64_t* vals = highs + h.high_words;
  if (h.user_coding == ValueBlockHeader::kBitmap) {
    for (std::uint32_t o : offsets) highs[o >> 6] |= std::uint64_t{1} << (o & 63);
  } else {
    BitWriter low_writer(lows);
    const unsigned lb = h.low_bits;
    for (std::size_t i = 0; i < offsets.size(); ++i) {
      std::uint32_t o = offsets[i];
      low_writer.put(o & ((1u << lb) - 1), lb);
      std::uint64_t bit = (std::uint64_t{o} >> lb) + i;
      highs[bit >> 6] |= std::uint64_t{1} << (bit & 63);
    }
  }
  BitWriter value_writer(vals);
  const auto base = static_cast<std::uint64_t>(h.min_value);
  for (std::int64_t v : values) value_writer.put(static_cast<std::uint64_t>(v) - base, h.value_bits);
}

// A heap block: the chunk owns its words.
struct OwnedWords {
  std::vector<std::uint64_t> words;
};

}  // namespace

void encode_values_into(std::span<const std::uint32_t> offsets, std::span<const std::int64_t> values,
                        std::vector<std::uint64_t>& out) {
  assert(!offsets.empty() && offsets.size() == values.size());
  Layout l = layout_for(offsets, values);
  out.assign(l.words, 0);
  write_block(l, offsets, values, out.data());
}

std::shared_ptr<const sdk::ValueChunk> encode_values(std::span<const std::uint32_t> offsets,
                                                     std::span<const std::int64_t> values) {
  auto owned = std::make_shared<OwnedWords>();
  encode_values_into(offsets, values, owned->words);
  const std::uint64_t* words = owned->words.data();
  return value_chunk_view(std::move(owned), words);
}

std::shared_ptr<const sdk::ValueChunk> value_chunk_view(std::shared_ptr<const void> owner, const std::uint64_t* words) {
  sdk::ValueBlock b(words);
  return std::make_shared<const sdk::ValueChunk>(std::move(owner), b, std::vector<std::uint16_t>{},
                                                 std::vector<std::int64_t>{}, b.size(), b.min_value(), b.max_value());
}

std::shared_ptr<const sdk::AttributeChunk> attribute_chunk_view(std::shared_ptr<const void> owner,
                                                                const std::uint64_t* words) {
  sdk::AttributeBlock b(words);
  return std::make_shared<const sdk::AttributeChunk>(std::move(owner), b, std::vector<std::uint16_t>{},
                                                     std::vector<sdk::AttributeEntry>{}, std::string{}, b.size());
}

std::shared_ptr<const sdk::AttributeChunk> encode_attributes(std::span<const std::uint32_t> offsets,
                                                             std::span<const AttributeValue> values) {
  assert(!offsets.empty() && offsets.size() == values.size());
  // The dictionary: each distinct value once, in order of first appearance.
  std::unordered_map<std::string, std::uint32_t> code_of;
  std::vector<const AttributeValue*> dictionary;
  std::vector<std::int64_t> codes;
  codes.reserve(values.size());
  std::string key;
  std::uint64_t text_bytes = 0;
  for (const auto& v : values) {
    key.assign(1, static_cast<char>(v.type));
    if (v.type == AttributeValue::Type::kString) key += v.text;
    else if (v.type == AttributeValue::Type::kNumber) key.append(reinterpret_cast<const char*>(&v.number), sizeof v.number);
    else key += v.boolean ? '1' : '0';
    auto [it, added] = code_of.emplace(key, static_cast<std::uint32_t>(dictionary.size()));
    if (added) {
      dictionary.push_back(&v);
      text_bytes += v.text.size();
    }
    codes.push_back(it->second);
  }
  // The dictionary in value order (type, then value), so that an ordered
  // comparison is a range of codes (sdk::AttributeBlockHeader::kSortedDictionary).
  std::vector<std::uint32_t> order(dictionary.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    const AttributeValue& x = *dictionary[a];
    const AttributeValue& y = *dictionary[b];
    if (x.type != y.type) return x.type < y.type;
    switch (x.type) {
      case AttributeValue::Type::kString: return x.text < y.text;
      case AttributeValue::Type::kNumber:
        if (x.number != y.number) return x.number < y.number;
        return std::signbit(x.number) > std::signbit(y.number);  // -0 before 0: a total order
      case AttributeValue::Type::kBool: return x.boolean < y.boolean;
    }
    return false;
  });
  std::vector<std::uint32_t> rank(dictionary.size());
  std::vector<const AttributeValue*> sorted(dictionary.size());
  for (std::uint32_t r = 0; r < order.size(); ++r) {
    rank[order[r]] = r;
    sorted[r] = dictionary[order[r]];
  }
  dictionary.swap(sorted);
  for (auto& c : codes) c = rank[static_cast<std::size_t>(c)];
  std::vector<std::uint64_t> code_words;
  encode_values_into(offsets, codes, code_words);
  std::size_t entry_words = dictionary.size() * sizeof(sdk::AttributeEntry) / 8;
  std::size_t total = sdk::kAttributeBlockHeaderWords + code_words.size() + entry_words + (text_bytes + 7) / 8;
  auto owned = std::make_shared<OwnedWords>();
  owned->words.assign(total, 0);
  std::uint64_t* w = owned->words.data();
  sdk::AttributeBlockHeader h{};
  h.dictionary_size = static_cast<std::uint32_t>(dictionary.size());
  h.flags = sdk::AttributeBlockHeader::kSortedDictionary;
  h.codes_words = code_words.size();
  h.text_bytes = text_bytes;
  std::memcpy(w, &h, sizeof h);
  std::memcpy(w + sdk::kAttributeBlockHeaderWords, code_words.data(), code_words.size() * 8);
  auto* entries = reinterpret_cast<sdk::AttributeEntry*>(w + sdk::kAttributeBlockHeaderWords + code_words.size());
  char* text = reinterpret_cast<char*>(entries + dictionary.size());
  std::uint64_t at = 0;
  for (std::size_t i = 0; i < dictionary.size(); ++i) {
    const AttributeValue& v = *dictionary[i];
    sdk::AttributeEntry e{};
    e.type = static_cast<std::uint8_t>(v.type);
    e.boolean = v.boolean ? 1 : 0;
    e.text_length = static_cast<std::uint32_t>(v.text.size());
    e.text_offset = at;
    e.number = v.number;
    e.time = v.time;
    std::memcpy(&entries[i], &e, sizeof e);
    std::memcpy(text + at, v.text.data(), v.text.size());
    at += v.text.size();
  }
  const std::uint64_t* words = owned->words.data();
  return attribute_chunk_view(std::move(owned), words);
}

std::shared_ptr<const sdk::UserAttributes> make_attribute_column(std::span<const sdk::UserIndex> users,
                                                                 std::span<const AttributeValue> values) {
  std::vector<sdk::UserAttributes::ChunkPtr> chunks;
  std::vector<std::uint32_t> offsets;
  std::size_t i = 0;
  while (i < users.size()) {
    std::uint32_t c = sdk::chunk_of(users[i]);
    std::size_t j = i;
    offsets.clear();
    while (j < users.size() && sdk::chunk_of(users[j]) == c) offsets.push_back(sdk::offset_in_chunk(users[j++]));
    if (chunks.size() <= c) chunks.resize(c + 1);
    chunks[c] = encode_attributes(offsets, values.subspan(i, j - i));
    i = j;
  }
  return std::make_shared<const sdk::UserAttributes>(std::move(chunks));
}

void decode_values(const sdk::ValueChunk& block, std::vector<std::uint32_t>& offsets, std::vector<std::int64_t>& values) {
  offsets.clear();
  values.clear();
  offsets.reserve(block.size());
  values.reserve(block.size());
  block.for_each([&](std::uint32_t o, std::int64_t v) {
    offsets.push_back(o);
    values.push_back(v);
  });
}

void decode_attributes(const sdk::AttributeChunk& block, std::vector<std::uint32_t>& offsets,
                       std::vector<AttributeValue>& values) {
  offsets.clear();
  values.clear();
  block.for_each([&](std::uint32_t o, const sdk::AttributeRef& v) {
    offsets.push_back(o);
    values.push_back(AttributeValue::from(v));
  });
}

std::shared_ptr<const sdk::ValueChunk> compacted(const std::shared_ptr<const sdk::ValueChunk>& chunk) {
  if (!chunk || !chunk->has_delta()) return chunk;
  std::vector<std::uint32_t> offsets;
  std::vector<std::int64_t> values;
  decode_values(*chunk, offsets, values);
  return offsets.empty() ? nullptr : encode_values(offsets, values);
}

std::shared_ptr<const sdk::AttributeChunk> compacted(const std::shared_ptr<const sdk::AttributeChunk>& chunk) {
  if (!chunk || !chunk->has_delta()) return chunk;
  std::vector<std::uint32_t> offsets;
  std::vector<AttributeValue> values;
  decode_attributes(*chunk, offsets, values);
  return offsets.empty() ? nullptr : encode_attributes(offsets, values);
}

namespace {

// The delta threshold: a delta larger than this is merged into the block.
std::size_t delta_limit(std::size_t block_size, std::size_t min_delta) { return std::max(min_delta, block_size / 8); }

}  // namespace

std::shared_ptr<const sdk::ValueChunk> edit_chunk(const sdk::ValueChunk* old, const std::vector<IntChange>& changes,
                                                  std::size_t min_delta) {
  assert(!changes.empty());
  // The merged delta: the old delta's entries, overridden by the changes.
  std::vector<std::uint16_t> offsets;
  std::vector<std::int64_t> values;
  std::span<const std::uint16_t> od = old ? old->delta_offsets() : std::span<const std::uint16_t>();
  std::span<const std::int64_t> ov = old ? old->delta_values() : std::span<const std::int64_t>();
  offsets.reserve(od.size() + changes.size());
  values.reserve(od.size() + changes.size());
  std::size_t a = 0, b = 0;
  while (a < od.size() || b < changes.size()) {
    if (b == changes.size() || (a < od.size() && od[a] < changes[b].offset)) {
      offsets.push_back(od[a]), values.push_back(ov[a]), ++a;
    } else {
      if (a < od.size() && od[a] == changes[b].offset) ++a;
      offsets.push_back(static_cast<std::uint16_t>(changes[b].offset)), values.push_back(changes[b].value), ++b;
    }
  }
  std::int64_t count = old ? old->size() : 0;
  for (const auto& c : changes) count += (c.value != sdk::kNoTime ? 1 : 0) - (c.had ? 1 : 0);
  if (count <= 0) return nullptr;
  const sdk::ValueBlock main = old ? old->main() : sdk::ValueBlock();
  if (offsets.size() > delta_limit(main.size(), min_delta)) {
    // Merge: the block's users with the delta applied, encoded anew.
    std::vector<std::uint32_t> mo;
    std::vector<std::int64_t> mv;
    mo.reserve(static_cast<std::size_t>(count));
    mv.reserve(static_cast<std::size_t>(count));
    std::size_t d = 0;
    auto flush_below = [&](std::uint32_t o) {
      for (; d < offsets.size() && offsets[d] < o; ++d)
        if (values[d] != sdk::kNoTime) mo.push_back(offsets[d]), mv.push_back(values[d]);
    };
    main.for_each([&](std::uint32_t o, std::int64_t v) {
      flush_below(o);
      if (d < offsets.size() && offsets[d] == o) {
        if (values[d] != sdk::kNoTime) mo.push_back(o), mv.push_back(values[d]);
        ++d;
        return;
      }
      mo.push_back(o), mv.push_back(v);
    });
    flush_below(sdk::kChunkUsers);
    if (mo.empty()) return nullptr;
    return encode_values(mo, mv);
  }
  // Keep the block (shared), with the larger delta. The zone map covers both.
  std::int64_t lo = main.size() ? main.min_value() : std::numeric_limits<std::int64_t>::max();
  std::int64_t hi = main.size() ? main.max_value() : std::numeric_limits<std::int64_t>::min();
  for (std::int64_t v : values)
    if (v != sdk::kNoTime) lo = std::min(lo, v), hi = std::max(hi, v);
  std::shared_ptr<const void> owner = old ? old->owner() : nullptr;
  return std::make_shared<const sdk::ValueChunk>(std::move(owner), main, std::move(offsets), std::move(values),
                                                 static_cast<std::uint32_t>(count), lo, hi);
}

std::shared_ptr<const sdk::AttributeChunk> edit_chunk(const sdk::AttributeChunk* old,
                                                      const std::vector<AttributeChange>& changes,
                                                      std::size_t min_delta) {
  assert(!changes.empty());
  // The merged delta, as owned values first.
  std::vector<std::uint16_t> offsets;
  std::vector<std::optional<AttributeValue>> values;
  std::span<const std::uint16_t> od = old ? old->delta_offsets() : std::span<const std::uint16_t>();
  std::size_t a = 0, b = 0;
  auto old_value = [&](std::size_t i) -> std::optional<AttributeValue> {
    auto v = old->delta_value(i);
    if (!v) return std::nullopt;
    return AttributeValue::from(*v);
  };
  while (a < od.size() || b < changes.size()) {
    if (b == changes.size() || (a < od.size() && od[a] < changes[b].offset)) {
      offsets.push_back(od[a]), values.push_back(old_value(a)), ++a;
    } else {
      if (a < od.size() && od[a] == changes[b].offset) ++a;
      offsets.push_back(static_cast<std::uint16_t>(changes[b].offset)), values.push_back(changes[b].value), ++b;
    }
  }
  std::int64_t count = old ? old->size() : 0;
  for (const auto& c : changes) count += (c.value ? 1 : 0) - (c.had ? 1 : 0);
  if (count <= 0) return nullptr;
  const sdk::AttributeBlock main = old ? old->main() : sdk::AttributeBlock();
  if (offsets.size() > delta_limit(main.size(), min_delta)) {
    std::vector<std::uint32_t> mo;
    std::vector<AttributeValue> mv;
    std::size_t d = 0;
    auto flush_below = [&](std::uint32_t o) {
      for (; d < offsets.size() && offsets[d] < o; ++d)
        if (values[d]) mo.push_back(offsets[d]), mv.push_back(*values[d]);
    };
    main.for_each([&](std::uint32_t o, const sdk::AttributeRef& v) {
      flush_below(o);
      if (d < offsets.size() && offsets[d] == o) {
        if (values[d]) mo.push_back(o), mv.push_back(*values[d]);
        ++d;
        return;
      }
      mo.push_back(o), mv.push_back(AttributeValue::from(v));
    });
    flush_below(sdk::kChunkUsers);
    if (mo.empty()) return nullptr;
    return encode_attributes(mo, mv);
  }
  std::vector<sdk::AttributeEntry> entries;
  std::string text;
  entries.reserve(values.size());
  for (const auto& v : values) {
    sdk::AttributeEntry e{};
    if (!v) {
      e.type = sdk::AttributeChunk::kAbsent;
    } else {
      e.type = static_cast<std::uint8_t>(v->type);
      e.boolean = v->boolean ? 1 : 0;
      e.text_length = static_cast<std::uint32_t>(v->text.size());
      e.text_offset = text.size();
      e.number = v->number;
      e.time = v->time;
      text += v->text;
    }
    entries.push_back(e);
  }
  std::shared_ptr<const void> owner = old ? old->owner() : nullptr;
  return std::make_shared<const sdk::AttributeChunk>(std::move(owner), main, std::move(offsets), std::move(entries),
                                                     std::move(text), static_cast<std::uint32_t>(count));
}

}  // namespace retarget
