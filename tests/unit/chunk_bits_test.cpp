// The SDK's chunked bitmaps and columns (types.hpp, data.hpp, filter.hpp) and
// the shared helpers (helpers.hpp) against the TimePredicate semantics.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <memory>
#include <optional>
#include <algorithm>
#include <random>
#include <tuple>
#include <vector>

#include "eval/bit_kernels.hpp"
#include "index/column_codec.hpp"
#include "retarget/sdk/helpers.hpp"

namespace retarget::sdk {
using retarget::AttributeValue;
using retarget::encode_values;
using retarget::make_attribute_column;
using retarget::make_int_column;
namespace {


std::unique_ptr<ChunkBits> bits() {
  auto b = std::make_unique<ChunkBits>();
  b->clear();
  return b;
}

class NoProfiles : public ProfileView {
 public:
  const UserTimes* times(SummaryKind, std::string_view, std::string_view) const override { return nullptr; }
  const UserCounts* news_feed_views() const override { return nullptr; }
  const UserAttributes* attribute(std::string_view) const override { return nullptr; }
  std::span<const std::uint16_t> user_buckets(std::uint32_t) const override { return {}; }
};

// ------------------------------------------------------------------ basics

TEST(ChunkBits, Constants) {
  EXPECT_EQ(kChunkUsers, 65536u);
  EXPECT_EQ(kChunkWords, 1024u);
  EXPECT_EQ(sizeof(ChunkBits), 8192u);
  EXPECT_EQ(chunk_of(0), 0u);
  EXPECT_EQ(chunk_of(65535), 0u);
  EXPECT_EQ(chunk_of(65536), 1u);
  EXPECT_EQ(chunk_of(131072), 2u);
  EXPECT_EQ(offset_in_chunk(65535), 65535u);
  EXPECT_EQ(offset_in_chunk(65536), 0u);
  EXPECT_EQ(offset_in_chunk(65537), 1u);
}

TEST(ChunkBits, SetTestCountClearFill) {
  auto b = bits();
  EXPECT_EQ(b->count(), 0u);
  for (std::uint32_t i : {0u, 1u, 63u, 64u, 65u, 1000u, 65535u}) b->set(i);
  EXPECT_EQ(b->count(), 7u);
  for (std::uint32_t i : {0u, 1u, 63u, 64u, 65u, 1000u, 65535u}) EXPECT_TRUE(b->test(i)) << i;
  for (std::uint32_t i : {2u, 62u, 66u, 999u, 1001u, 65534u}) EXPECT_FALSE(b->test(i)) << i;
  b->set(64);  // idempotent
  EXPECT_EQ(b->count(), 7u);
  b->fill();
  EXPECT_EQ(b->count(), 65536u);
  EXPECT_TRUE(b->test(12345));
  b->clear();
  EXPECT_EQ(b->count(), 0u);
  EXPECT_FALSE(b->test(65535));
}

// The evaluator's dispatched kernels (whichever clone the loader picked)
// give what the inline ChunkBits operations give, on random and edge bitsets.
TEST(BitKernels, AgreeWithTheInlineOperations) {
  std::mt19937_64 rng(5);
  auto random_bits = [&](int kind) {
    auto b = bits();
    for (std::uint32_t w = 0; w < kChunkWords; ++w)
      b->words[w] = kind == 0 ? 0 : kind == 1 ? ~std::uint64_t{0} : (rng() & rng());
    return b;
  };
  EXPECT_NE(std::string(retarget::bit_kernels::instruction_set()), "");
  for (int ka = 0; ka < 3; ++ka)
    for (int kb = 0; kb < 3; ++kb) {
      auto a = random_bits(ka), b = random_bits(kb);
      EXPECT_EQ(retarget::bit_kernels::count(*a), a->count());
      EXPECT_EQ(retarget::bit_kernels::none(*a), a->count() == 0);
      auto check = [&](auto inline_op, auto kernel) {
        ChunkBits x = *a, y = *a;
        inline_op(x, *b);
        kernel(y, *b);
        ASSERT_EQ(std::memcmp(x.words, y.words, sizeof x.words), 0);
      };
      check([](ChunkBits& x, const ChunkBits& o) { x.and_with(o); }, retarget::bit_kernels::and_with);
      check([](ChunkBits& x, const ChunkBits& o) { x.or_with(o); }, retarget::bit_kernels::or_with);
      check([](ChunkBits& x, const ChunkBits& o) { x.and_not(o); }, retarget::bit_kernels::and_not);
      check([](ChunkBits& x, const ChunkBits& o) { x.complement_within(o); }, retarget::bit_kernels::complement_within);
      std::vector<std::uint32_t> members = {7};  // appended after what is there
      retarget::bit_kernels::append_members(*a, 3u << kChunkShift, members);
      ASSERT_EQ(members.size(), a->count() + 1);
      ASSERT_EQ(members[0], 7u);
      std::size_t i = 1;
      for (std::uint32_t o = 0; o < kChunkUsers; ++o)
        if (a->test(o)) {
          ASSERT_EQ(members[i++], (3u << kChunkShift) + o);
        }
    }
}

TEST(ChunkBits, SetOperations) {
  auto a = bits(), b = bits();
  for (std::uint32_t i : {1u, 2u, 3u, 100u, 65535u}) a->set(i);
  for (std::uint32_t i : {2u, 3u, 4u, 200u, 65535u}) b->set(i);

  auto x = bits();
  *x = *a;
  x->and_with(*b);
  EXPECT_EQ(x->count(), 3u);  // 2, 3, 65535
  EXPECT_TRUE(x->test(2) && x->test(3) && x->test(65535));

  *x = *a;
  x->or_with(*b);
  EXPECT_EQ(x->count(), 7u);  // 1,2,3,4,100,200,65535
  for (std::uint32_t i : {1u, 2u, 3u, 4u, 100u, 200u, 65535u}) EXPECT_TRUE(x->test(i)) << i;

  *x = *a;
  x->and_not(*b);
  EXPECT_EQ(x->count(), 2u);  // 1, 100
  EXPECT_TRUE(x->test(1) && x->test(100));

  // complement_within: universe AND NOT this.
  auto universe = bits();
  for (std::uint32_t i = 0; i < 10; ++i) universe->set(i);
  *x = *a;  // 1, 2, 3, 100, 65535
  x->complement_within(*universe);
  EXPECT_EQ(x->count(), 7u);  // 0,4,5,6,7,8,9
  for (std::uint32_t i : {0u, 4u, 5u, 6u, 7u, 8u, 9u}) EXPECT_TRUE(x->test(i)) << i;
  EXPECT_FALSE(x->test(100));
  EXPECT_FALSE(x->test(65535));
}

// ---------------------------------------------------------------- universe

class Universe : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(Universe, ExactlyTheUsersThatExist) {
  const std::uint32_t n = GetParam();
  NoProfiles profiles;
  EvalContext ctx(n, nullptr, profiles, nullptr, 0);
  EXPECT_EQ(ctx.user_count(), n);
  auto out = bits();
  for (std::uint32_t chunk = 0; chunk < 3; ++chunk) {
    out->fill();  // universe() must overwrite whatever was there
    ctx.universe(chunk, *out);
    std::uint64_t first = std::uint64_t{chunk} * kChunkUsers;
    std::uint64_t expected = n > first ? std::min<std::uint64_t>(kChunkUsers, n - first) : 0;
    EXPECT_EQ(out->count(), expected) << "users " << n << " chunk " << chunk;
    // The bits are exactly the first `expected` offsets.
    if (expected > 0) {
      EXPECT_TRUE(out->test(static_cast<std::uint32_t>(expected - 1)));
    }
    if (expected < kChunkUsers) {
      EXPECT_FALSE(out->test(static_cast<std::uint32_t>(expected)));
    }
    for (std::uint32_t w = 0; w < kChunkWords; ++w) {
      std::uint64_t lo = std::uint64_t{w} * 64;
      std::uint64_t want = expected >= lo + 64 ? ~0ULL : expected > lo ? (1ULL << (expected - lo)) - 1 : 0;
      ASSERT_EQ(out->words[w], want) << "users " << n << " chunk " << chunk << " word " << w;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(ChunkBits, Universe,
                         ::testing::Values(0u, 1u, 63u, 64u, 65u, 65535u, 65536u, 65537u, 131072u, 131073u));

TEST(EvalContext, ProfileLevelFiltersMayNotReadInteractions) {
  NoProfiles profiles;
  EvalContext ctx(10, nullptr, profiles, nullptr, 0);
  EXPECT_THROW(ctx.interactions(), InteractionAccessDenied);
  EXPECT_EQ(&ctx.profiles(), &profiles);
}

// ------------------------------------------------------- columns (blocks)

using Times = std::shared_ptr<const UserTimes>;
Times column(std::vector<UserIndex> users, std::vector<Timestamp> times) {
  return make_int_column<TimeTag>(users, times);
}

// Every user of `chunk` in the column, with its value, via for_each.
std::vector<std::pair<UserIndex, Timestamp>> entries(const UserTimes& c, std::uint32_t chunk) {
  std::vector<std::pair<UserIndex, Timestamp>> out;
  if (const ValueChunk* b = c.chunk(chunk))
    b->for_each([&](std::uint32_t o, std::int64_t v) { out.emplace_back((chunk << kChunkShift) + o, v); });
  return out;
}

TEST(UserColumn, SlicesUsersSpanningThreeChunks) {
  auto col = column({0, 5, 65535, 65536, 70000, 131072, 196607}, {10, 11, 12, 13, 14, 15, 16});
  EXPECT_EQ(col->size(), 7u);
  EXPECT_FALSE(col->empty());
  using E = std::vector<std::pair<UserIndex, Timestamp>>;
  EXPECT_EQ(entries(*col, 0), (E{{0, 10}, {5, 11}, {65535, 12}}));
  EXPECT_EQ(entries(*col, 1), (E{{65536, 13}, {70000, 14}}));
  EXPECT_EQ(entries(*col, 2), (E{{131072, 15}, {196607, 16}}));
  // Beyond the last chunk: nothing.
  EXPECT_EQ(col->chunk(3), nullptr);
  EXPECT_EQ(col->chunk(1000), nullptr);
  EXPECT_EQ(col->chunk(std::numeric_limits<std::uint32_t>::max()), nullptr);
}

TEST(UserColumn, EmptyChunksInTheMiddleAndAtTheStart) {
  auto col = column({70000, 200000}, {1, 2});  // chunks 1 and 3; 0 and 2 empty
  EXPECT_EQ(col->chunk(0), nullptr);
  ASSERT_NE(col->chunk(1), nullptr);
  EXPECT_EQ(col->chunk(1)->size(), 1u);
  EXPECT_EQ(col->chunk(2), nullptr);
  EXPECT_EQ(entries(*col, 3), (std::vector<std::pair<UserIndex, Timestamp>>{{200000, 2}}));
  EXPECT_EQ(col->chunk(4), nullptr);
}

TEST(UserColumn, EmptyColumn) {
  UserTimes col;
  EXPECT_TRUE(col.empty());
  EXPECT_EQ(col.size(), 0u);
  EXPECT_EQ(col.chunk(0), nullptr);
  EXPECT_FALSE(col.find(0));
  auto col2 = column({}, {});
  EXPECT_TRUE(col2->empty());
  EXPECT_FALSE(col2->find(7));
  auto out = bits();
  col2->set_chunk_bits(0, *out);
  EXPECT_EQ(out->count(), 0u);
}

TEST(UserColumn, Find) {
  auto col = column({3, 65536, 131073}, {30, 40, 50});
  EXPECT_EQ(col->find(3), 30);
  EXPECT_EQ(col->find(65536), 40);
  EXPECT_EQ(col->find(131073), 50);
  EXPECT_FALSE(col->find(0));
  EXPECT_FALSE(col->find(4));
  EXPECT_FALSE(col->find(65535));
  EXPECT_FALSE(col->find(131074));
  EXPECT_FALSE(col->find(std::numeric_limits<UserIndex>::max()));
  EXPECT_TRUE(col->contains(65536));
  EXPECT_FALSE(col->contains(65537));
}

TEST(UserColumn, SetChunkBitsUsesOffsets) {
  auto col = column({1, 65535, 65536, 65600, 131072}, {1, 2, 3, 4, 5});
  auto out = bits();
  col->set_chunk_bits(0, *out);
  EXPECT_EQ(out->count(), 2u);
  EXPECT_TRUE(out->test(1));
  EXPECT_TRUE(out->test(65535));
  out->clear();
  col->set_chunk_bits(1, *out);
  EXPECT_EQ(out->count(), 2u);
  EXPECT_TRUE(out->test(0));
  EXPECT_TRUE(out->test(64));
  out->clear();
  col->set_chunk_bits(2, *out);
  EXPECT_EQ(out->count(), 1u);
  EXPECT_TRUE(out->test(0));
}

TEST(UserColumn, CountsAndAttributes) {
  std::vector<UserIndex> users = {2, 9};
  std::vector<std::int64_t> counts = {5, 7};
  auto c = make_int_column<CountTag>(users, counts);
  EXPECT_EQ(c->find(9), 7);
  AttributeValue de{AttributeValue::Type::kString, "DE", 0, false, kNoTime};
  AttributeValue fr{AttributeValue::Type::kString, "FR", 0, false, kNoTime};
  AttributeValue n{AttributeValue::Type::kNumber, "", 12.5, false, kNoTime};
  std::vector<UserIndex> au = {4, 5, 6, 70000};
  std::vector<AttributeValue> av = {de, fr, de, n};
  auto attrs = make_attribute_column(au, av);
  ASSERT_TRUE(attrs->find(4));
  EXPECT_EQ(attrs->find(4)->text, "DE");
  EXPECT_EQ(attrs->find(5)->text, "FR");
  EXPECT_EQ(attrs->find(6)->text, "DE");
  EXPECT_EQ(attrs->find(70000)->number, 12.5);
  EXPECT_EQ(attrs->find(70000)->type, AttributeRef::Type::kNumber);
  EXPECT_FALSE(attrs->find(7));
  // Each distinct value of a chunk is in its dictionary once.
  EXPECT_EQ(attrs->chunk(0)->main().dictionary_size(), 2u);
}

// The encoder against a plain model, over every density (both user codings),
// value spans from 0 to 48 bits, and the block's kernels.
class BlockRoundTrip : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(BlockRoundTrip, EveryKernelAgreesWithTheModel) {
  auto [per_mille, span_bits] = GetParam();
  std::mt19937_64 rng(static_cast<std::uint64_t>(per_mille * 131 + span_bits));
  std::vector<std::uint32_t> offsets;
  std::vector<std::int64_t> values;
  const std::int64_t base = 1780272000000 - (std::int64_t{1} << 47);
  for (std::uint32_t o = 0; o < kChunkUsers; ++o)
    if (static_cast<int>(rng() % 1000) < per_mille) {
      offsets.push_back(o);
      values.push_back(span_bits == 0 ? base : base + static_cast<std::int64_t>(rng() & ((std::uint64_t{1} << span_bits) - 1)));
    }
  if (offsets.empty()) offsets.push_back(12345), values.push_back(base);
  auto chunk = encode_values(offsets, values);
  const ValueBlock& b = chunk->main();
  ASSERT_EQ(b.size(), offsets.size());
  // for_each gives back exactly the input.
  std::vector<std::uint32_t> o2;
  std::vector<std::int64_t> v2;
  b.for_each([&](std::uint32_t o, std::int64_t v) { o2.push_back(o), v2.push_back(v); });
  ASSERT_EQ(o2, offsets);
  ASSERT_EQ(v2, values);
  // Zone map.
  EXPECT_EQ(b.min_value(), *std::min_element(values.begin(), values.end()));
  EXPECT_EQ(b.max_value(), *std::max_element(values.begin(), values.end()));
  // find / index_of for members and for non-members.
  std::vector<std::int64_t> model(kChunkUsers, kNoTime);
  for (std::size_t i = 0; i < offsets.size(); ++i) model[offsets[i]] = values[i];
  for (std::uint32_t o = 0; o < kChunkUsers; o += (o % 7 == 0 ? 1 : 13)) {
    auto f = b.find(o);
    if (model[o] == kNoTime) ASSERT_FALSE(f) << o;
    else ASSERT_EQ(f, model[o]) << o;
  }
  for (std::size_t i = 0; i < offsets.size(); i += 97) ASSERT_EQ(b.index_of(offsets[i]), i);
  // Presence, ranges (inside the zone, across it, outside), clearing.
  auto all = bits();
  b.set_bits(*all);
  ASSERT_EQ(all->count(), offsets.size());
  std::int64_t lo = b.min_value() + (b.max_value() - b.min_value()) / 3;
  std::int64_t hi = b.min_value() + 2 * ((b.max_value() - b.min_value()) / 3);
  for (auto [l, h] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {lo, hi}, {kMinTime, kMaxTime}, {b.max_value() + 1, kMaxTime}, {kMinTime, b.min_value() - 1},
           {b.min_value(), b.min_value()}, {hi, lo}}) {
    auto in = bits();
    b.set_bits_in_range(l, h, *in);
    auto kept = bits();
    kept->fill();
    b.clear_bits_outside(l, h, *kept);
    for (std::uint32_t o = 0; o < kChunkUsers; ++o) {
      bool present = model[o] != kNoTime;
      bool inside = present && l <= model[o] && model[o] <= h;
      ASSERT_EQ(in->test(o), inside) << "offset " << o << " range " << l << ".." << h;
      ASSERT_EQ(kept->test(o), !present || inside) << "offset " << o;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Densities, BlockRoundTrip,
                         ::testing::Combine(::testing::Values(0, 1, 30, 120, 333, 500, 900, 1000),
                                            ::testing::Values(0, 1, 13, 35, 48)));

// A chunk edited many times (values changed, users added and removed): its
// block-plus-delta form must answer every kernel as the plain model does,
// before and after the delta is merged into a new block.
TEST(ValueChunk, EditsThroughTheDeltaAgreeWithTheModel) {
  std::mt19937_64 rng(99);
  std::vector<std::int64_t> model(kChunkUsers, kNoTime);
  std::shared_ptr<const ValueChunk> chunk;
  for (int round = 0; round < 60; ++round) {
    // Changes: a few hundred offsets, sorted, unique.
    std::vector<std::uint32_t> offs;
    for (int k = 0; k < 300; ++k) offs.push_back(static_cast<std::uint32_t>(rng() % 4096) * 16);
    std::sort(offs.begin(), offs.end());
    offs.erase(std::unique(offs.begin(), offs.end()), offs.end());
    std::vector<retarget::IntChange> changes;
    for (std::uint32_t o : offs) {
      std::int64_t v = rng() % 5 == 0 ? kNoTime : static_cast<std::int64_t>(rng() % 1000000);
      bool had = model[o] != kNoTime;
      if (!had && v == kNoTime) continue;
      changes.push_back({o, v, had});
      model[o] = v;
    }
    if (changes.empty()) continue;
    chunk = retarget::edit_chunk(chunk.get(), changes, /*min_delta=*/700);
    std::uint32_t expected = 0;
    for (auto v : model) expected += v != kNoTime;
    if (expected == 0) {
      ASSERT_EQ(chunk, nullptr);
      continue;
    }
    ASSERT_NE(chunk, nullptr);
    ASSERT_EQ(chunk->size(), expected) << "round " << round;
    std::uint32_t seen = 0;
    std::int64_t last = -1;
    chunk->for_each([&](std::uint32_t o, std::int64_t v) {
      ASSERT_GT(static_cast<std::int64_t>(o), last);
      last = o;
      ASSERT_EQ(v, model[o]) << o;
      ++seen;
    });
    ASSERT_EQ(seen, expected);
    auto present = bits(), in = bits(), kept = bits();
    chunk->set_bits(*present);
    chunk->set_bits_in_range(250000, 750000, *in);
    kept->fill();
    chunk->clear_bits_outside(250000, 750000, *kept);
    for (std::uint32_t o = 0; o < kChunkUsers; o += 16) {
      bool has = model[o] != kNoTime;
      bool inside = has && model[o] >= 250000 && model[o] <= 750000;
      ASSERT_EQ(present->test(o), has) << o;
      ASSERT_EQ(in->test(o), inside) << o;
      ASSERT_EQ(kept->test(o), !has || inside) << o;
      auto f = chunk->find(o);
      ASSERT_EQ(f.has_value(), has) << o;
      if (has) {
        ASSERT_EQ(*f, model[o]);
      }
    }
    // Bits set by another column stay set: kernels only add.
    auto other = bits();
    other->fill();
    chunk->set_bits(*other);
    ASSERT_EQ(other->count(), kChunkUsers);
  }
}

// Attribute chunks keep their dictionary in value order (strings, then numbers
// ascending, then booleans), so an ordered comparison of numbers is a range of
// codes: evaluate_code_range must select exactly what the per-value verdict
// does, for sparse and dense chunks, with and without a delta of changes.
TEST(AttributeChunk, CodeRangesOfTheSortedDictionaryAgreeWithTheVerdict) {
  std::mt19937_64 rng(7);
  for (int per_mille : {3, 200, 1000}) {
    std::vector<std::uint32_t> offsets;
    std::vector<AttributeValue> values;
    std::vector<std::optional<AttributeValue>> model(kChunkUsers);
    for (std::uint32_t o = 0; o < kChunkUsers; ++o) {
      if (static_cast<int>(rng() % 1000) >= per_mille) continue;
      AttributeValue v;
      switch (rng() % 8) {
        case 0: v = {AttributeValue::Type::kString, "s" + std::to_string(rng() % 50), 0, false, kNoTime}; break;
        case 1: v = {AttributeValue::Type::kBool, "", 0, rng() % 2 == 0, kNoTime}; break;
        case 2: v = {AttributeValue::Type::kNumber, "", rng() % 2 ? 0.0 : -0.0, false, kNoTime}; break;
        default:
          v = {AttributeValue::Type::kNumber, "", static_cast<double>(static_cast<int>(rng() % 200001) - 100000) / 100,
               false, kNoTime};
      }
      offsets.push_back(o);
      values.push_back(v);
      model[o] = v;
    }
    auto chunk = retarget::make_attribute_column(
                     [&] {
                       std::vector<UserIndex> u(offsets.begin(), offsets.end());
                       return u;
                     }(),
                     values)
                     ->chunks()[0];
    const AttributeBlock& block = chunk->main();
    ASSERT_TRUE(block.sorted());
    // The dictionary is in order: type, then value.
    for (std::uint32_t k = 1; k < block.dictionary_size(); ++k) {
      AttributeRef a = block.entry(k - 1), b = block.entry(k);
      ASSERT_LE(static_cast<int>(a.type), static_cast<int>(b.type));
      if (a.type == b.type && a.type == AttributeRef::Type::kNumber) {
        ASSERT_LE(a.number, b.number);
      }
      if (a.type == b.type && a.type == AttributeRef::Type::kString) {
        ASSERT_LT(a.text, b.text);
      }
    }
    // A delta of changes on top (values set, changed and unset).
    const auto before = model;
    std::vector<retarget::AttributeChange> changes;
    for (std::uint32_t o = 5; o < kChunkUsers; o += 611) {
      std::optional<AttributeValue> v;
      if (rng() % 3) v = AttributeValue{AttributeValue::Type::kNumber, "", static_cast<double>(rng() % 2000) - 1000, false, kNoTime};
      if (!v && !model[o]) continue;
      changes.push_back({o, v, model[o].has_value()});
      model[o] = v;
    }
    auto edited = retarget::edit_chunk(chunk.get(), changes, /*min_delta=*/100000);
    ASSERT_TRUE(edited->has_delta());
    std::vector<bool> touched(kChunkUsers, false);  // in the chunk, or unset by the delta
    for (std::uint32_t o = 0; o < kChunkUsers; ++o) touched[o] = before[o].has_value();
    for (const auto& ch : changes) touched[ch.offset] = true;
    for (const auto* c : {chunk.get(), edited.get()}) {
      const auto& m = c == chunk.get() ? before : model;
      auto [first, end] = c->main().number_codes();
      for (double x : {-1000.5, -0.0, 0.0, 3.25, 999.99, 1e9}) {
        auto more_than = [x](const AttributeRef& v) { return v.type == AttributeRef::Type::kNumber && v.number > x; };
        std::uint32_t above = c->main().partition_numbers(first, end, [x](double d) { return !(d > x); });
        auto got = bits(), want = bits();
        got->fill();  // users the chunk does not hold keep their bits
        want->fill();
        c->evaluate_code_range(above, end, more_than, /*absent=*/false, *got);
        c->evaluate(more_than, /*absent=*/false, *want);
        for (std::uint32_t o = 0; o < kChunkUsers; ++o) {
          ASSERT_EQ(got->test(o), want->test(o)) << "offset " << o << " x " << x;
          bool holds = c == chunk.get() ? before[o].has_value() : touched[o];
          bool expected = holds ? m[o] && m[o]->type == AttributeRef::Type::kNumber && m[o]->number > x : true;
          ASSERT_EQ(got->test(o), expected) << "offset " << o << " x " << x;
        }
      }
    }
  }
}

TEST(ValueBlock, ASparseChunkOfTimesCostsUnderSixBytesAnEntry) {
  // 280 users of 65,536 with millisecond times over 400 days (35 bits): the
  // Elias-Fano users need about 10 bits, the times 35.
  std::mt19937_64 rng(7);
  std::vector<std::uint32_t> offsets;
  std::vector<std::int64_t> values;
  for (std::uint32_t o = 0; o < kChunkUsers; ++o)
    if (rng() % 65536 < 280) offsets.push_back(o), values.push_back(1780272000000 - static_cast<std::int64_t>(rng() % 34560000000));
  auto chunk = encode_values(offsets, values);
  EXPECT_FALSE(chunk->main().dense());
  double per_entry = static_cast<double>(chunk->main().bytes()) / offsets.size();
  EXPECT_LT(per_entry, 6.0) << offsets.size() << " entries, " << chunk->main().bytes() << " bytes";
  // A dense chunk uses the bitmap (8 KiB for the users).
  std::vector<std::uint32_t> dense;
  for (std::uint32_t o = 0; o < kChunkUsers; o += 2) dense.push_back(o);
  std::vector<std::int64_t> zeros(dense.size(), 0);
  EXPECT_TRUE(encode_values(dense, zeros)->main().dense());
}

TEST(UserIdHash, IsFnv1a64) {
  // The published FNV-1a 64-bit test vectors.
  EXPECT_EQ(user_id_hash(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(user_id_hash("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(user_id_hash("foobar"), 0x85944171f73967e8ULL);
}

// ----------------------------------------------------------- TimePredicate

TEST(TimePredicate, Matches) {
  TimeRange range;
  range.lo = 100;
  range.hi = 200;
  range.match_present = true;
  EXPECT_FALSE(range.matches(99));
  EXPECT_TRUE(range.matches(100));  // both bounds inclusive
  EXPECT_TRUE(range.matches(200));
  EXPECT_FALSE(range.matches(201));
  EXPECT_FALSE(range.matches(kNoTime));

  TimePredicate blank_true;  // t absent
  blank_true.kind = TimePredicate::Kind::kBlank;
  blank_true.blank = true;
  TimeRange bt = blank_true.at(0);
  EXPECT_TRUE(bt.matches(kNoTime));
  EXPECT_FALSE(bt.matches(0));
  EXPECT_FALSE(bt.matches(kMaxTime));

  TimePredicate blank_false;  // t present
  blank_false.kind = TimePredicate::Kind::kBlank;
  blank_false.blank = false;
  TimeRange bf = blank_false.at(0);
  EXPECT_FALSE(bf.matches(kNoTime));
  EXPECT_TRUE(bf.matches(kMinTime));
  EXPECT_TRUE(bf.matches(-1));
  EXPECT_TRUE(bf.matches(kMaxTime));
}

TEST(TimePredicate, RelativeFormsBindToTheEvaluationClock) {
  TimePredicate more;
  more.kind = TimePredicate::Kind::kMoreThanDaysAgo;
  more.days = 7;
  const Timestamp now = 1780272000000;
  TimeRange r = more.at(now);
  EXPECT_TRUE(r.matches(now - 7 * kMillisPerDay - 1));  // strictly before now - 7 days
  EXPECT_FALSE(r.matches(now - 7 * kMillisPerDay));
  // The same compiled predicate evaluated a day later moves with the clock.
  EXPECT_TRUE(more.at(now + kMillisPerDay).matches(now - 7 * kMillisPerDay));
  TimePredicate less;
  less.kind = TimePredicate::Kind::kLessThanDaysAgo;
  less.days = 1;
  EXPECT_TRUE(less.at(now).matches(now));
  EXPECT_FALSE(less.at(now).matches(now + 1));  // the future does not match
  EXPECT_FALSE(less.at(now).matches(now - kMillisPerDay));
  EXPECT_TRUE(less.at(now).matches(now - kMillisPerDay + 1));
}

// -------------------------------------------------------- helpers: bulk/point

// Users 0..n-1; every third user has a time of (user * 1000).
struct Fixture {
  std::uint32_t n;
  NoProfiles profiles;
  EvalContext ctx;
  Times column_ptr;
  const UserTimes& column;
  explicit Fixture(std::uint32_t users)
      : n(users), ctx(users, nullptr, profiles, nullptr, 0), column_ptr(make(users)), column(*column_ptr) {}
  static Times make(std::uint32_t users) {
    std::vector<UserIndex> us;
    std::vector<Timestamp> ts;
    for (std::uint32_t u = 0; u < users; u += 3) {
      us.push_back(u);
      ts.push_back(static_cast<Timestamp>(u) * 1000);
    }
    return sdk::column(std::move(us), std::move(ts));
  }
};

// The bulk result must equal pred.matches(time_of(column, user)) for every
// user that exists, and have no bit for a user that does not.
void check_time_chunks(Fixture& f, const UserTimes* column, const TimeRange& pred, const char* text,
                       std::uint64_t expected_total) {
  std::uint64_t total = 0;
  auto out = bits();
  std::uint32_t chunks = (f.n + kChunkUsers - 1) / kChunkUsers + 1;
  for (std::uint32_t chunk = 0; chunk < chunks; ++chunk) {
    out->clear();
    match_time_chunk(f.ctx, column, pred, chunk, *out);
    for (std::uint32_t off = 0; off < kChunkUsers; ++off) {
      std::uint64_t user = std::uint64_t{chunk} * kChunkUsers + off;
      bool want = user < f.n && pred.matches(time_of(column, static_cast<UserIndex>(user)));
      ASSERT_EQ(out->test(off), want) << text << ": user " << user;
    }
    total += out->count();
  }
  EXPECT_EQ(total, expected_total) << text;
}

TEST(Helpers, TimeOf) {
  auto col = column({1, 70000}, {5, 6});
  EXPECT_EQ(time_of(col.get(), 1), 5);
  EXPECT_EQ(time_of(col.get(), 70000), 6);
  EXPECT_EQ(time_of(col.get(), 2), kNoTime);
  EXPECT_EQ(time_of(nullptr, 1), kNoTime);
}

TEST(Helpers, MatchTimeChunkRange) {
  Fixture f(70001);  // users 0..70000, chunks 0 and 1
  TimeRange p;
  p.match_present = true;
  p.lo = 3000;       // user 3
  p.hi = 66000'000;  // user 66000
  // Users u = 0 mod 3 with 3 <= u <= 66000: 3, 6, ..., 66000 -> 22000 users.
  check_time_chunks(f, &f.column, p, "range", 22000);
}

TEST(Helpers, MatchTimeChunkBlankTrueIsTheAbsentUsers) {
  Fixture f(70001);
  TimeRange p;
  p.match_absent = true;
  std::uint64_t present = f.column.size();  // 23334 users have a time
  check_time_chunks(f, &f.column, p, "blank: true", 70001 - present);
  // Without a column, every existing user is absent.
  check_time_chunks(f, nullptr, p, "blank: true", 70001);
}

TEST(Helpers, MatchTimeChunkBlankFalseIsThePresentUsers) {
  Fixture f(70001);
  TimeRange p;
  p.match_present = true;
  check_time_chunks(f, &f.column, p, "blank: false", f.column.size());
  check_time_chunks(f, nullptr, p, "blank: false", 0);
}

TEST(Helpers, MatchTimeChunkAbsentOrInRange) {
  // A predicate may match both absent users and a range of times.
  Fixture f(1000);
  TimeRange p;
  p.match_absent = true;
  p.match_present = true;
  p.lo = 0;
  p.hi = 9000;  // users 0, 3, 6, 9
  std::uint64_t absent = 1000 - f.column.size();
  check_time_chunks(f, &f.column, p, "absent or early", absent + 4);
}

TEST(Helpers, MatchPresenceChunk) {
  Fixture f(70001);
  auto out = bits();
  std::uint64_t have = 0, have_not = 0;
  for (std::uint32_t chunk = 0; chunk < 3; ++chunk) {
    out->clear();
    match_presence_chunk(f.ctx, &f.column, true, chunk, *out);
    for (std::uint32_t off = 0; off < kChunkUsers; off += 1) {
      std::uint64_t user = std::uint64_t{chunk} * kChunkUsers + off;
      ASSERT_EQ(out->test(off), user < f.n && user % 3 == 0) << "have: user " << user;
    }
    have += out->count();
    out->clear();
    match_presence_chunk(f.ctx, &f.column, false, chunk, *out);
    for (std::uint32_t off = 0; off < kChunkUsers; off += 1) {
      std::uint64_t user = std::uint64_t{chunk} * kChunkUsers + off;
      ASSERT_EQ(out->test(off), user < f.n && user % 3 != 0) << "have: false: user " << user;
    }
    have_not += out->count();
  }
  EXPECT_EQ(have, f.column.size());
  EXPECT_EQ(have + have_not, 70001u);  // have: false is the complement over U

  // No column: nobody has it; everybody has not.
  std::uint64_t none = 0, all = 0;
  for (std::uint32_t chunk = 0; chunk < 3; ++chunk) {
    out->clear();
    match_presence_chunk(f.ctx, nullptr, true, chunk, *out);
    none += out->count();
    out->clear();
    match_presence_chunk(f.ctx, nullptr, false, chunk, *out);
    all += out->count();
  }
  EXPECT_EQ(none, 0u);
  EXPECT_EQ(all, 70001u);
}

TEST(Helpers, EmptyUniverse) {
  Fixture f(0);
  auto out = bits();
  TimeRange p;
  p.match_absent = true;
  match_time_chunk(f.ctx, nullptr, p, 0, *out);
  EXPECT_EQ(out->count(), 0u);
  out->clear();
  match_presence_chunk(f.ctx, nullptr, false, 0, *out);
  EXPECT_EQ(out->count(), 0u);
}

}  // namespace
}  // namespace retarget::sdk
