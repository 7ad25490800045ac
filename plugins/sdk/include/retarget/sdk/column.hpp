// The compact columns filters read: per chunk of 65,536 users, the users that
// have a value and one value each.
//
//   const UserTimes* received = ctx.interactions().fact(key);
//   if (const ValueChunk* c = received ? received->chunk(chunk) : nullptr) {
//     c->set_bits(out);                               // every user with the fact
//     c->set_bits_in_range(lo, hi, out);              // ... whose time is in [lo, hi]
//     c->for_each([&](std::uint32_t offset, std::int64_t t) { ... });
//   }
//
// A chunk is an encoded block (below) plus, possibly, a small delta of recent
// changes not merged into the block yet: sorted offsets with each user's value
// now, overriding the block's (kNoTime in a delta: the user has no value any
// more). The kernels of ValueChunk and AttributeChunk see the two as one;
// ingest publishes a change in O(change) and merges a delta into its block
// when the delta grows.
//
// Encoding of one block (the layout is part of the ABI; version kAbiVersion):
//   header      count, user coding, bit widths, min and max value (a zone map)
//   users       Elias-Fano over the chunk's offsets 0..65535 (sparse chunks),
//               or a 65,536-bit bitmap (dense chunks), whichever is smaller;
//   values      value - min, packed in `value_bits` bits each, in user order.
// Milliseconds stay exact: the width is that of the chunk's value span, so a
// chunk whose times lie in 400 days needs 35 bits, one within a day 27.
//
// Thread safety: blocks and columns are immutable once built; any number of
// threads may read them at once. A block view never owns its words: the
// column keeps them alive (ValueChunk::owner).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "retarget/sdk/types.hpp"

namespace retarget::sdk {

namespace bits {

// `width` bits (0..64) at bit `pos` of `words`. REQUIRES: one readable word
// past the last one a value touches (encoders add a padding word).
inline std::uint64_t read(const std::uint64_t* words, std::uint64_t pos, unsigned width) {
  if (width == 0) return 0;
  std::uint64_t w = pos >> 6;
  unsigned shift = static_cast<unsigned>(pos & 63);
  std::uint64_t v = words[w] >> shift;
  if (shift + width > 64) v |= words[w + 1] << (64 - shift);
  return width == 64 ? v : v & ((std::uint64_t{1} << width) - 1);
}

inline std::uint64_t words_for(std::uint64_t bit_count) { return (bit_count + 63) / 64; }

}  // namespace bits

// The fixed part of an encoded block, as it lies in memory (8-byte aligned).
struct ValueBlockHeader {
  std::uint32_t count;       // users in the block (1..65,536)
  std::uint8_t user_coding;  // kEliasFano or kBitmap
  std::uint8_t low_bits;     // Elias-Fano: low bits per offset
  std::uint8_t value_bits;   // bits per packed value (0: all values equal min)
  std::uint8_t reserved;
  std::uint32_t low_words;   // words of Elias-Fano low bits
  std::uint32_t high_words;  // words of Elias-Fano high bits (bitmap: 1,024)
  std::int64_t min_value;
  std::int64_t max_value;
  static constexpr std::uint8_t kEliasFano = 0;
  static constexpr std::uint8_t kBitmap = 1;
};
static_assert(sizeof(ValueBlockHeader) == 32);
inline constexpr std::size_t kValueBlockHeaderWords = sizeof(ValueBlockHeader) / 8;

// A read-only view of one encoded block.
class ValueBlock {
 public:
  ValueBlock() = default;
  // REQUIRES: `words` holds a block written by the host's encoder.
  explicit ValueBlock(const std::uint64_t* words) : words_(words) {
    std::memcpy(&h_, words, sizeof h_);
    lows_ = words + kValueBlockHeaderWords;
    highs_ = lows_ + h_.low_words;
    values_ = highs_ + h_.high_words;
  }

  std::uint32_t size() const { return h_.count; }
  std::int64_t min_value() const { return h_.min_value; }
  std::int64_t max_value() const { return h_.max_value; }
  bool dense() const { return h_.user_coding == ValueBlockHeader::kBitmap; }
  // Words of the whole block (header, users, values, one padding word).
  std::size_t word_count() const {
    return kValueBlockHeaderWords + h_.low_words + h_.high_words + bits::words_for(std::uint64_t{h_.count} * h_.value_bits) + 1;
  }
  std::size_t bytes() const { return words_ ? word_count() * 8 : 0; }
  const std::uint64_t* words() const { return words_; }

  // The value of entry i (in user order).
  std::int64_t value_at(std::uint32_t i) const {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(h_.min_value) +
                                     bits::read(values_, std::uint64_t{i} * h_.value_bits, h_.value_bits));
  }

  // Calls f(offset, value) for every user, offsets ascending.
  template <typename F>
  void for_each(F&& f) const {
    std::uint32_t i = 0;
    for_each_offset([&](std::uint32_t offset) { f(offset, value_at(i++)); });
  }

  // Calls f(offset) for every user, ascending (no values decoded).
  template <typename F>
  void for_each_offset(F&& f) const {
    if (dense()) {
      for (std::uint32_t w = 0; w < kChunkWords; ++w)
        for (std::uint64_t word = highs_[w]; word; word &= word - 1)
          f(w * 64 + static_cast<std::uint32_t>(std::countr_zero(word)));
      return;
    }
    const unsigned l = h_.low_bits;
    std::uint32_t i = 0;
    for (std::uint32_t w = 0; w < h_.high_words; ++w) {
      for (std::uint64_t word = highs_[w]; word; word &= word - 1) {
        std::uint32_t high = w * 64 + static_cast<std::uint32_t>(std::countr_zero(word)) - i;
        f((high << l) | static_cast<std::uint32_t>(bits::read(lows_, std::uint64_t{i} * l, l)));
        ++i;
      }
    }
  }

  // Sets the bit of every user in the block.
  void set_bits(ChunkBits& out) const {
    if (dense()) {
      for (std::uint32_t w = 0; w < kChunkWords; ++w) out.words[w] |= highs_[w];
      return;
    }
    for_each_offset([&](std::uint32_t o) { out.set(o); });
  }

  // Sets the bit of every user whose value v has lo <= v <= hi.
  void set_bits_in_range(std::int64_t lo, std::int64_t hi, ChunkBits& out) const {
    if (lo > hi || h_.max_value < lo || h_.min_value > hi) return;  // zone map: none
    if (lo <= h_.min_value && h_.max_value <= hi) return set_bits(out);  // zone map: all
    const auto range = packed_range(lo, hi);
    const std::uint64_t plo = range.first, span = range.second;
    scan_words([&](std::uint64_t p) { return p - plo <= span; },
               [&](std::uint32_t w, std::uint64_t, std::uint64_t yes) { out.words[w] |= yes; });
  }

  // Clears the bit of every user in the block whose value is outside [lo, hi]
  // (users absent from the block are untouched).
  void clear_bits_outside(std::int64_t lo, std::int64_t hi, ChunkBits& out) const {
    if (lo <= h_.min_value && h_.max_value <= hi) return;  // all inside
    if (lo > hi || h_.max_value < lo || h_.min_value > hi) {  // all outside
      scan_offset_words([&](std::uint32_t w, std::uint64_t present) { out.words[w] &= ~present; });
      return;
    }
    const auto range = packed_range(lo, hi);
    const std::uint64_t plo = range.first, span = range.second;
    scan_words([&](std::uint64_t p) { return p - plo <= span; },
               [&](std::uint32_t w, std::uint64_t present, std::uint64_t yes) { out.words[w] &= ~present | yes; });
  }

  // [lo, hi] in packed values (value - min_value()) as (first, span):
  // v in [lo, hi]  <=>  p - first <= span. REQUIRES: [lo, hi] overlaps the zone map.
  std::pair<std::uint64_t, std::uint64_t> packed_range(std::int64_t lo, std::int64_t hi) const {
    const auto base = static_cast<std::uint64_t>(h_.min_value);
    std::uint64_t plo = lo <= h_.min_value ? 0 : static_cast<std::uint64_t>(lo) - base;
    std::uint64_t phi = static_cast<std::uint64_t>(hi < h_.max_value ? hi : h_.max_value) - base;
    return {plo, phi - plo};
  }

  // The word-at-a-time kernel under the filters: for each 64-user word of
  // the chunk that holds users of the block, in ascending order, calls
  // sink(word, present, yes) with the mask of the block's users there and the
  // mask of those whose packed value p (value - min_value()) has keep(p).
  // Branch-free per user, so the cost does not depend on how the predicate
  // splits the users.
  template <typename Keep, typename Sink>
  void scan_words(Keep&& keep, Sink&& sink) const {
    const unsigned vw = h_.value_bits;
    if (dense()) {
      std::uint64_t pos = 0;
      for (std::uint32_t w = 0; w < kChunkWords; ++w) {
        const std::uint64_t present = highs_[w];
        if (!present) continue;
        std::uint64_t yes = 0;
        for (std::uint64_t word = present; word; word &= word - 1) {
          std::uint64_t p = bits::read(values_, pos, vw);
          pos += vw;
          yes |= std::uint64_t{keep(p)} << std::countr_zero(word);
        }
        sink(w, present, yes);
      }
      return;
    }
    const unsigned l = h_.low_bits;
    std::uint32_t i = 0, current = ~0u;
    std::uint64_t present = 0, yes = 0;
    for (std::uint32_t hw = 0; hw < h_.high_words; ++hw) {
      for (std::uint64_t word = highs_[hw]; word; word &= word - 1) {
        std::uint32_t high = hw * 64 + static_cast<std::uint32_t>(std::countr_zero(word)) - i;
        std::uint32_t o = (high << l) | static_cast<std::uint32_t>(bits::read(lows_, std::uint64_t{i} * l, l));
        std::uint64_t p = bits::read(values_, std::uint64_t{i} * vw, vw);
        ++i;
        if ((o >> 6) != current) {
          if (present) sink(current, present, yes);
          current = o >> 6;
          present = yes = 0;
        }
        const std::uint64_t bit = std::uint64_t{1} << (o & 63);
        present |= bit;
        yes |= keep(p) ? bit : 0;
      }
    }
    if (present) sink(current, present, yes);
  }

  // As scan_words without values: sink(word, present) per word holding users.
  template <typename Sink>
  void scan_offset_words(Sink&& sink) const {
    if (dense()) {
      for (std::uint32_t w = 0; w < kChunkWords; ++w)
        if (highs_[w]) sink(w, highs_[w]);
      return;
    }
    std::uint32_t current = ~0u;
    std::uint64_t present = 0;
    for_each_offset([&](std::uint32_t o) {
      if ((o >> 6) != current) {
        if (present) sink(current, present);
        current = o >> 6;
        present = 0;
      }
      present |= std::uint64_t{1} << (o & 63);
    });
    if (present) sink(current, present);
  }

  // The index of the entry of `offset`, or nullopt when the user is absent.
  std::optional<std::uint32_t> index_of(std::uint32_t offset) const {
    if (dense()) {
      std::uint32_t w = offset >> 6;
      std::uint64_t bit = std::uint64_t{1} << (offset & 63);
      if (!(highs_[w] & bit)) return std::nullopt;
      std::uint32_t rank = 0;
      for (std::uint32_t k = 0; k < w; ++k) rank += static_cast<std::uint32_t>(std::popcount(highs_[k]));
      return rank + static_cast<std::uint32_t>(std::popcount(highs_[w] & (bit - 1)));
    }
    const unsigned l = h_.low_bits;
    std::uint32_t want_high = offset >> l, want_low = offset & ((1u << l) - 1);
    // Skip whole words of the high bits by counting their zeros (one zero ends each bucket).
    std::uint32_t zeros = 0, ones = 0, w = 0;
    for (; w < h_.high_words; ++w) {
      std::uint32_t z = 64 - static_cast<std::uint32_t>(std::popcount(highs_[w]));
      if (zeros + z >= want_high) break;  // bucket want_high may start in this word
      zeros += z;
      ones += 64 - z;
    }
    for (; w < h_.high_words; ++w) {
      std::uint64_t word = highs_[w];
      for (std::uint32_t b = 0; b < 64; ++b) {
        if (word >> b & 1) {
          if (zeros == want_high) {
            std::uint32_t low = static_cast<std::uint32_t>(bits::read(lows_, std::uint64_t{ones} * l, l));
            if (low == want_low) return ones;
            if (low > want_low) return std::nullopt;
          }
          ++ones;
        } else if (++zeros > want_high) {
          return std::nullopt;
        }
      }
    }
    return std::nullopt;
  }

  std::optional<std::int64_t> find(std::uint32_t offset) const {
    auto i = index_of(offset);
    if (!i) return std::nullopt;
    return value_at(*i);
  }

 private:
  const std::uint64_t* words_ = nullptr;
  ValueBlockHeader h_{};
  const std::uint64_t* lows_ = nullptr;
  const std::uint64_t* highs_ = nullptr;  // bitmap for dense blocks
  const std::uint64_t* values_ = nullptr;
};

// One chunk of an int64 column: the block, the delta, and what keeps the
// block's words alive (a file buffer, or the host's own allocation).
class ValueChunk {
 public:
  ValueChunk() = default;
  // Host side. `delta_values[i]` == kNoTime removes the user. `count`, `min`
  // and `max` describe the effective values (the host computes them).
  ValueChunk(std::shared_ptr<const void> owner, ValueBlock main, std::vector<std::uint16_t> delta_offsets,
             std::vector<std::int64_t> delta_values, std::uint32_t count, std::int64_t min, std::int64_t max)
      : owner_(std::move(owner)), main_(main), delta_offsets_(std::move(delta_offsets)),
        delta_values_(std::move(delta_values)), count_(count), min_(min), max_(max) {}

  // Users with a value in the chunk.
  std::uint32_t size() const { return count_; }
  // A zone map: every value lies in [min_value(), max_value()].
  std::int64_t min_value() const { return min_; }
  std::int64_t max_value() const { return max_; }
  const ValueBlock& main() const { return main_; }
  bool has_delta() const { return !delta_offsets_.empty(); }
  std::span<const std::uint16_t> delta_offsets() const { return delta_offsets_; }
  std::span<const std::int64_t> delta_values() const { return delta_values_; }
  // The bytes a full scan reads: the block and the delta.
  std::size_t bytes() const { return main_.bytes() + delta_offsets_.size() * (sizeof(std::uint16_t) + sizeof(std::int64_t)); }
  const std::shared_ptr<const void>& owner() const { return owner_; }

  // Calls f(offset, value) for every user, offsets ascending.
  template <typename F>
  void for_each(F&& f) const {
    if (!has_delta()) return main_.for_each(f);
    std::size_t d = 0;
    const std::size_t nd = delta_offsets_.size();
    main_.for_each([&](std::uint32_t o, std::int64_t v) {
      for (; d < nd && delta_offsets_[d] < o; ++d)
        if (delta_values_[d] != kNoTime) f(delta_offsets_[d], delta_values_[d]);
      if (d < nd && delta_offsets_[d] == o) {
        if (delta_values_[d] != kNoTime) f(o, delta_values_[d]);
        ++d;
        return;
      }
      f(o, v);
    });
    for (; d < nd; ++d)
      if (delta_values_[d] != kNoTime) f(delta_offsets_[d], delta_values_[d]);
  }
  template <typename F>
  void for_each_offset(F&& f) const {
    if (!has_delta()) return main_.for_each_offset(f);
    for_each([&](std::uint32_t o, std::int64_t) { f(o); });
  }

  // Sets the bit of every user with a value (other bits untouched).
  void set_bits(ChunkBits& out) const {
    if (!has_delta()) return main_.set_bits(out);
    ChunkBits mine;
    mine.clear();
    main_.set_bits(mine);
    apply_delta(mine, [](std::int64_t v) { return v != kNoTime; });
    out.or_with(mine);
  }

  // Sets the bit of every user whose value v has lo <= v <= hi.
  void set_bits_in_range(std::int64_t lo, std::int64_t hi, ChunkBits& out) const {
    if (!has_delta()) return main_.set_bits_in_range(lo, hi, out);
    if (lo > hi || max_ < lo || min_ > hi) return;
    ChunkBits mine;
    mine.clear();
    main_.set_bits_in_range(lo, hi, mine);
    apply_delta(mine, [&](std::int64_t v) { return v != kNoTime && lo <= v && v <= hi; });
    out.or_with(mine);
  }

  // Clears the bit of every user whose value is outside [lo, hi] (users
  // without a value are untouched). lo > hi clears every user with a value.
  void clear_bits_outside(std::int64_t lo, std::int64_t hi, ChunkBits& out) const {
    if (!has_delta()) return main_.clear_bits_outside(lo, hi, out);
    ChunkBits keep;
    keep.fill();
    main_.clear_bits_outside(lo, hi, keep);
    apply_delta(keep, [&](std::int64_t v) { return v == kNoTime || (lo <= v && v <= hi); });
    out.and_with(keep);
  }

  std::optional<std::int64_t> find(std::uint32_t offset) const {
    if (has_delta()) {
      auto it = std::lower_bound(delta_offsets_.begin(), delta_offsets_.end(), offset);
      if (it != delta_offsets_.end() && *it == offset) {
        std::int64_t v = delta_values_[static_cast<std::size_t>(it - delta_offsets_.begin())];
        if (v == kNoTime) return std::nullopt;
        return v;
      }
    }
    return main_.find(offset);
  }

 private:
  // For every delta entry, sets its bit when keep(value), else clears it.
  template <typename Keep>
  void apply_delta(ChunkBits& bits_, Keep keep) const {
    for (std::size_t i = 0; i < delta_offsets_.size(); ++i) {
      std::uint32_t o = delta_offsets_[i];
      std::uint64_t mask = std::uint64_t{1} << (o & 63);
      if (keep(delta_values_[i])) bits_.words[o >> 6] |= mask;
      else bits_.words[o >> 6] &= ~mask;
    }
  }

  std::shared_ptr<const void> owner_;
  ValueBlock main_;
  std::vector<std::uint16_t> delta_offsets_;
  std::vector<std::int64_t> delta_values_;
  std::uint32_t count_ = 0;
  std::int64_t min_ = 0, max_ = 0;
};

// A column of int64 values by user (times in ms, counts), chunk by chunk.
// INVARIANT: chunk c holds only users of chunk c; size() is the sum of counts.
template <typename Tag>
class IntColumn {
 public:
  using ChunkPtr = std::shared_ptr<const ValueChunk>;
  IntColumn() = default;
  // Host side. REQUIRES: chunks[i] (null = no user there) holds users of chunk i.
  explicit IntColumn(std::vector<ChunkPtr> chunks) : chunks_(std::move(chunks)) {
    for (const auto& c : chunks_)
      if (c) size_ += c->size();
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // One chunk, or nullptr when no user of the chunk is in the column.
  const ValueChunk* chunk(std::uint32_t c) const { return c < chunks_.size() ? chunks_[c].get() : nullptr; }
  std::optional<std::int64_t> find(UserIndex user) const {
    const ValueChunk* c = chunk(chunk_of(user));
    return c ? c->find(offset_in_chunk(user)) : std::nullopt;
  }
  bool contains(UserIndex user) const { return find(user).has_value(); }
  void set_chunk_bits(std::uint32_t c, ChunkBits& out) const {
    if (const ValueChunk* ch = chunk(c)) ch->set_bits(out);
  }
  // Calls f(user, value) for every user, ascending.
  template <typename F>
  void for_each(F&& f) const {
    for (std::uint32_t c = 0; c < chunks_.size(); ++c)
      if (chunks_[c]) {
        UserIndex base = c << kChunkShift;
        chunks_[c]->for_each([&](std::uint32_t o, std::int64_t v) { f(base + o, v); });
      }
  }
  // The bytes a full scan reads (every block and delta).
  std::size_t scan_bytes() const {
    std::size_t n = 0;
    for (const auto& c : chunks_)
      if (c) n += c->bytes();
    return n;
  }
  // Heap bytes of the column's own structures (blocks counted by their owners).
  std::size_t overhead_bytes() const { return chunks_.capacity() * sizeof(ChunkPtr) + chunk_count() * sizeof(ValueChunk); }
  std::size_t chunk_count() const {
    std::size_t n = 0;
    for (const auto& c : chunks_) n += c != nullptr;
    return n;
  }
  // Host side: the chunks, for building the next version.
  const std::vector<ChunkPtr>& chunks() const { return chunks_; }

 private:
  std::vector<ChunkPtr> chunks_;
  std::size_t size_ = 0;
};

struct TimeTag {};
struct CountTag {};
// Users with a time each: the last time something happened to them.
using UserTimes = IntColumn<TimeTag>;
// Users with a count each (users with none are absent).
using UserCounts = IntColumn<CountTag>;

// --- custom attributes ---------------------------------------------------------

// A custom attribute's value, as a view into the column's dictionary. Strings
// that parse as RFC 3339 times also carry the time, so time predicates apply.
struct AttributeRef {
  enum class Type : std::uint8_t { kString, kNumber, kBool };
  Type type = Type::kString;
  std::string_view text;     // kString
  double number = 0;         // kNumber
  bool boolean = false;      // kBool
  Timestamp time = kNoTime;  // kString that is a valid time, else kNoTime
};

// One dictionary entry as it lies in memory.
struct AttributeEntry {
  std::uint8_t type;
  std::uint8_t boolean;
  std::uint16_t reserved;
  std::uint32_t text_length;
  std::uint64_t text_offset;  // into the block's text bytes
  double number;
  std::int64_t time;
};
static_assert(sizeof(AttributeEntry) == 32);

// The fixed part of an attribute block. Layout: header, the users block (a
// ValueBlock whose values are dictionary codes), the dictionary entries, the
// text bytes. Each distinct value of the chunk is in the dictionary once, so a
// filter decides each distinct value once and then maps codes.
struct AttributeBlockHeader {
  std::uint32_t dictionary_size;
  std::uint32_t flags;
  // The entries are sorted by type (string, number, bool), then value (text
  // bytes; numbers ascending; false before true), so an ordered comparison is
  // a range of codes. Blocks written before this flag existed lack it.
  static constexpr std::uint32_t kSortedDictionary = 1;
  std::uint64_t codes_words;  // words of the users-and-codes ValueBlock
  std::uint64_t text_bytes;
};
static_assert(sizeof(AttributeBlockHeader) == 24);
inline constexpr std::size_t kAttributeBlockHeaderWords = 3;

class AttributeBlock {
 public:
  AttributeBlock() = default;
  explicit AttributeBlock(const std::uint64_t* words) : words_(words) {
    std::memcpy(&h_, words, sizeof h_);
    codes_ = ValueBlock(words + kAttributeBlockHeaderWords);
    entries_ = reinterpret_cast<const unsigned char*>(words + kAttributeBlockHeaderWords + h_.codes_words);
    text_ = reinterpret_cast<const char*>(entries_ + std::size_t{h_.dictionary_size} * sizeof(AttributeEntry));
  }
  std::uint32_t size() const { return codes_.size(); }
  // The users, with each one's dictionary code as its value.
  const ValueBlock& codes() const { return codes_; }
  std::uint32_t dictionary_size() const { return h_.dictionary_size; }
  bool sorted() const { return (h_.flags & AttributeBlockHeader::kSortedDictionary) != 0; }
  // The type of entry `code` (cheaper than entry()).
  AttributeRef::Type type_of(std::uint32_t code) const {
    return static_cast<AttributeRef::Type>(entries_[std::size_t{code} * sizeof(AttributeEntry)]);
  }
  double number_of(std::uint32_t code) const {
    double d;
    std::memcpy(&d, entries_ + std::size_t{code} * sizeof(AttributeEntry) + offsetof(AttributeEntry, number), sizeof d);
    return d;
  }
  // The codes [first, end) of the number entries. REQUIRES: sorted().
  std::pair<std::uint32_t, std::uint32_t> number_codes() const {
    auto rank = [](AttributeRef::Type t) { return static_cast<int>(t); };
    const int want = rank(AttributeRef::Type::kNumber);
    std::uint32_t lo = 0, hi = h_.dictionary_size;
    while (lo < hi) {  // first code whose type is not before numbers
      std::uint32_t mid = lo + (hi - lo) / 2;
      if (rank(type_of(mid)) < want) lo = mid + 1;
      else hi = mid;
    }
    std::uint32_t first = lo;
    hi = h_.dictionary_size;
    while (lo < hi) {  // first code after the numbers
      std::uint32_t mid = lo + (hi - lo) / 2;
      if (rank(type_of(mid)) <= want) lo = mid + 1;
      else hi = mid;
    }
    return {first, lo};
  }
  // The first code in [first, end) whose entry is a number with
  // !before(number), for a predicate `before` true on a prefix of the
  // numbers. REQUIRES: sorted(), [first, end) within number_codes().
  template <typename Before>
  std::uint32_t partition_numbers(std::uint32_t first, std::uint32_t end, Before&& before) const {
    while (first < end) {
      std::uint32_t mid = first + (end - first) / 2;
      if (before(number_of(mid))) first = mid + 1;
      else end = mid;
    }
    return first;
  }
  AttributeRef entry(std::uint32_t code) const {
    AttributeEntry e;
    std::memcpy(&e, entries_ + std::size_t{code} * sizeof(AttributeEntry), sizeof e);
    AttributeRef r;
    r.type = static_cast<AttributeRef::Type>(e.type);
    r.text = std::string_view(text_ + e.text_offset, e.text_length);
    r.number = e.number;
    r.boolean = e.boolean != 0;
    r.time = e.time;
    return r;
  }
  // Calls f(offset, AttributeRef) for every user, ascending.
  template <typename F>
  void for_each(F&& f) const {
    codes_.for_each([&](std::uint32_t o, std::int64_t code) { f(o, entry(static_cast<std::uint32_t>(code))); });
  }
  std::optional<AttributeRef> find(std::uint32_t offset) const {
    auto code = codes_.find(offset);
    if (!code) return std::nullopt;
    return entry(static_cast<std::uint32_t>(*code));
  }
  std::size_t bytes() const {
    if (!words_) return 0;
    return (kAttributeBlockHeaderWords + h_.codes_words) * 8 + h_.dictionary_size * sizeof(AttributeEntry) +
           ((h_.text_bytes + 7) / 8) * 8;
  }
  const std::uint64_t* words() const { return words_; }

 private:
  const std::uint64_t* words_ = nullptr;
  AttributeBlockHeader h_{};
  ValueBlock codes_;
  const unsigned char* entries_ = nullptr;  // AttributeEntry records
  const char* text_ = nullptr;
};

// One chunk of an attribute column: the block, plus a delta of recent
// changes (sorted offsets with each user's value now; an entry of type
// kAbsent: the attribute was unset).
class AttributeChunk {
 public:
  static constexpr std::uint8_t kAbsent = 0xff;
  AttributeChunk() = default;
  // Host side: delta entries' text offsets index `delta_text`.
  AttributeChunk(std::shared_ptr<const void> owner, AttributeBlock main, std::vector<std::uint16_t> delta_offsets,
                 std::vector<AttributeEntry> delta_entries, std::string delta_text, std::uint32_t count)
      : owner_(std::move(owner)), main_(main), delta_offsets_(std::move(delta_offsets)),
        delta_entries_(std::move(delta_entries)), delta_text_(std::move(delta_text)), count_(count) {}

  std::uint32_t size() const { return count_; }
  const AttributeBlock& main() const { return main_; }
  bool has_delta() const { return !delta_offsets_.empty(); }
  std::span<const std::uint16_t> delta_offsets() const { return delta_offsets_; }
  // The value of delta entry i, or nullopt when it unsets the attribute.
  std::optional<AttributeRef> delta_value(std::size_t i) const {
    const AttributeEntry& e = delta_entries_[i];
    if (e.type == kAbsent) return std::nullopt;
    return AttributeRef{static_cast<AttributeRef::Type>(e.type),
                        std::string_view(delta_text_.data() + e.text_offset, e.text_length), e.number,
                        e.boolean != 0, e.time};
  }
  std::size_t bytes() const {
    return main_.bytes() + delta_offsets_.size() * (sizeof(std::uint16_t) + sizeof(AttributeEntry)) + delta_text_.size();
  }
  const std::shared_ptr<const void>& owner() const { return owner_; }

  // Calls f(offset, AttributeRef) for every user with a value, ascending.
  template <typename F>
  void for_each(F&& f) const {
    std::size_t d = 0;
    const std::size_t nd = delta_offsets_.size();
    auto flush_below = [&](std::uint32_t o) {
      for (; d < nd && delta_offsets_[d] < o; ++d)
        if (auto v = delta_value(d)) f(delta_offsets_[d], *v);
    };
    main_.for_each([&](std::uint32_t o, const AttributeRef& v) {
      flush_below(o);
      if (d < nd && delta_offsets_[d] == o) {
        if (auto dv = delta_value(d)) f(o, *dv);
        ++d;
        return;
      }
      f(o, v);
    });
    flush_below(kChunkUsers);
  }

  std::optional<AttributeRef> find(std::uint32_t offset) const {
    if (has_delta()) {
      auto it = std::lower_bound(delta_offsets_.begin(), delta_offsets_.end(), offset);
      if (it != delta_offsets_.end() && *it == offset) return delta_value(static_cast<std::size_t>(it - delta_offsets_.begin()));
    }
    return main_.find(offset);
  }

  // The kernel for an ordered comparison over a sorted dictionary: sets the
  // bit of every user of the block whose code is in [first, end) and clears
  // the other users of the block; delta entries are decided by verdict(value)
  // (a user the delta unset gets `absent`). REQUIRES: main().sorted().
  template <typename Verdict>
  void evaluate_code_range(std::uint32_t first, std::uint32_t end, Verdict&& verdict, bool absent,
                           ChunkBits& out) const {
    const ValueBlock& codes = main_.codes();
    if (main_.dictionary_size() > 0) {
      // Packed codes are code - min_value(); codes outside the block's range select nothing.
      const std::int64_t lo = first, hi = static_cast<std::int64_t>(end) - 1;
      if (lo > hi || hi < codes.min_value() || lo > codes.max_value()) {
        codes.scan_offset_words([&](std::uint32_t w, std::uint64_t present) { out.words[w] &= ~present; });
      } else {
        const auto range = codes.packed_range(lo, hi);
        const std::uint64_t plo = range.first, span = range.second;
        codes.scan_words([&](std::uint64_t p) { return p - plo <= span; },
                         [&](std::uint32_t w, std::uint64_t present, std::uint64_t yes) {
                           out.words[w] = (out.words[w] & ~present) | yes;
                         });
      }
    }
    apply_delta(verdict, absent, out);
  }

  // The filter kernel: sets the bit of every user with a value to
  // verdict(value) (set when true, cleared when false); a user the delta
  // unset gets `absent`. Users not in the chunk are untouched. Each distinct
  // value of the block is decided once.
  template <typename Verdict>
  void evaluate(Verdict&& verdict, bool absent, ChunkBits& out) const {
    const std::uint32_t n = main_.dictionary_size();
    if (n > 0) {
      thread_local std::vector<std::uint8_t> by_code;
      by_code.resize(n);
      bool any = false, all = true;
      for (std::uint32_t k = 0; k < n; ++k) {
        AttributeRef v = main_.entry(k);
        by_code[k] = verdict(v) ? 1 : 0;
        any = any || by_code[k];
        all = all && by_code[k];
      }
      const ValueBlock& codes = main_.codes();
      if (all) {
        codes.set_bits(out);
      } else if (!any) {
        codes.scan_offset_words([&](std::uint32_t w, std::uint64_t present) { out.words[w] &= ~present; });
      } else {
        // Codes are packed from the block's smallest code (min_value).
        const std::uint8_t* verdicts = by_code.data() + codes.min_value();
        codes.scan_words([&](std::uint64_t p) { return verdicts[p] != 0; },
                         [&](std::uint32_t w, std::uint64_t present, std::uint64_t yes) {
                           out.words[w] = (out.words[w] & ~present) | yes;
                         });
      }
    }
    apply_delta(verdict, absent, out);
  }

 private:
  template <typename Verdict>
  void apply_delta(Verdict& verdict, bool absent, ChunkBits& out) const {
    for (std::size_t i = 0; i < delta_offsets_.size(); ++i) {
      auto v = delta_value(i);
      bool yes = v ? verdict(*v) : absent;
      std::uint32_t o = delta_offsets_[i];
      std::uint64_t mask = std::uint64_t{1} << (o & 63);
      if (yes) out.words[o >> 6] |= mask;
      else out.words[o >> 6] &= ~mask;
    }
  }

  std::shared_ptr<const void> owner_;
  AttributeBlock main_;
  std::vector<std::uint16_t> delta_offsets_;
  std::vector<AttributeEntry> delta_entries_;
  std::string delta_text_;
  std::uint32_t count_ = 0;
};

// The current value of one custom attribute per user (unset users absent).
class UserAttributes {
 public:
  using ChunkPtr = std::shared_ptr<const AttributeChunk>;
  UserAttributes() = default;
  explicit UserAttributes(std::vector<ChunkPtr> chunks) : chunks_(std::move(chunks)) {
    for (const auto& c : chunks_)
      if (c) size_ += c->size();
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const AttributeChunk* chunk(std::uint32_t c) const { return c < chunks_.size() ? chunks_[c].get() : nullptr; }
  std::optional<AttributeRef> find(UserIndex user) const {
    const AttributeChunk* b = chunk(chunk_of(user));
    return b ? b->find(offset_in_chunk(user)) : std::nullopt;
  }
  template <typename F>
  void for_each(F&& f) const {
    for (std::uint32_t c = 0; c < chunks_.size(); ++c)
      if (chunks_[c]) {
        UserIndex base = c << kChunkShift;
        chunks_[c]->for_each([&](std::uint32_t o, const AttributeRef& v) { f(base + o, v); });
      }
  }
  std::size_t scan_bytes() const {
    std::size_t n = 0;
    for (const auto& c : chunks_)
      if (c) n += c->bytes();
    return n;
  }
  // The bytes of the users and their codes (blocks and deltas), without the
  // dictionaries: what a comparison decided on a range of codes reads.
  std::size_t code_bytes() const {
    std::size_t n = 0;
    for (const auto& c : chunks_)
      if (c) n += c->main().codes().bytes() + c->delta_offsets().size() * (sizeof(std::uint16_t) + sizeof(AttributeEntry));
    return n;
  }
  std::size_t overhead_bytes() const {
    std::size_t n = chunks_.capacity() * sizeof(ChunkPtr);
    for (const auto& c : chunks_) n += c ? sizeof(AttributeChunk) : 0;
    return n;
  }
  const std::vector<ChunkPtr>& chunks() const { return chunks_; }

 private:
  std::vector<ChunkPtr> chunks_;
  std::size_t size_ = 0;
};

}  // namespace retarget::sdk
