// The SDK's chunked bitmaps and columns (types.hpp, data.hpp, filter.hpp) and
// the shared helpers (helpers.hpp) against the TimePredicate semantics.
#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <vector>

#include "retarget/sdk/helpers.hpp"

namespace retarget::sdk {
namespace {

constexpr Timestamp kMin = std::numeric_limits<Timestamp>::min() + 1;
constexpr Timestamp kMax = std::numeric_limits<Timestamp>::max();

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
  std::span<const std::uint64_t> user_hashes(std::uint32_t) const override { return {}; }
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
  EvalContext ctx(n, nullptr, profiles);
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
  EvalContext ctx(10, nullptr, profiles);
  EXPECT_THROW(ctx.interactions(), InteractionAccessDenied);
  EXPECT_EQ(&ctx.profiles(), &profiles);
}

// -------------------------------------------------------------- UserColumn

TEST(UserColumn, SlicesUsersSpanningThreeChunks) {
  std::vector<UserIndex> users = {0, 5, 65535, 65536, 70000, 131072, 196607};
  std::vector<Timestamp> times = {10, 11, 12, 13, 14, 15, 16};
  UserTimes col(users, times);
  EXPECT_EQ(col.size(), 7u);
  EXPECT_FALSE(col.empty());

  auto u0 = col.users_in_chunk(0);
  auto v0 = col.values_in_chunk(0);
  ASSERT_EQ(u0.size(), 3u);
  ASSERT_EQ(v0.size(), 3u);
  EXPECT_EQ(u0[0], 0u);
  EXPECT_EQ(u0[2], 65535u);
  EXPECT_EQ(v0[2], 12);

  auto u1 = col.users_in_chunk(1);
  auto v1 = col.values_in_chunk(1);
  ASSERT_EQ(u1.size(), 2u);
  EXPECT_EQ(u1[0], 65536u);
  EXPECT_EQ(u1[1], 70000u);
  EXPECT_EQ(v1[0], 13);
  EXPECT_EQ(v1[1], 14);

  auto u2 = col.users_in_chunk(2);
  ASSERT_EQ(u2.size(), 2u);
  EXPECT_EQ(u2[0], 131072u);
  EXPECT_EQ(u2[1], 196607u);
  EXPECT_EQ(col.values_in_chunk(2)[1], 16);

  // Beyond the last chunk: empty.
  EXPECT_TRUE(col.users_in_chunk(3).empty());
  EXPECT_TRUE(col.values_in_chunk(3).empty());
  EXPECT_TRUE(col.users_in_chunk(1000).empty());
  EXPECT_TRUE(col.users_in_chunk(std::numeric_limits<std::uint32_t>::max()).empty());
}

TEST(UserColumn, EmptyChunksInTheMiddleAndAtTheStart) {
  UserTimes col({70000, 200000}, {1, 2});  // chunks 1 and 3; 0 and 2 empty
  EXPECT_TRUE(col.users_in_chunk(0).empty());
  ASSERT_EQ(col.users_in_chunk(1).size(), 1u);
  EXPECT_EQ(col.users_in_chunk(1)[0], 70000u);
  EXPECT_TRUE(col.users_in_chunk(2).empty());
  EXPECT_TRUE(col.values_in_chunk(2).empty());
  ASSERT_EQ(col.users_in_chunk(3).size(), 1u);
  EXPECT_EQ(col.values_in_chunk(3)[0], 2);
  EXPECT_TRUE(col.users_in_chunk(4).empty());
}

TEST(UserColumn, EmptyColumn) {
  UserTimes col;
  EXPECT_TRUE(col.empty());
  EXPECT_EQ(col.size(), 0u);
  EXPECT_TRUE(col.users_in_chunk(0).empty());
  EXPECT_TRUE(col.values_in_chunk(0).empty());
  EXPECT_EQ(col.find(0), nullptr);
  UserTimes col2(std::vector<UserIndex>{}, std::vector<Timestamp>{});
  EXPECT_TRUE(col2.empty());
  EXPECT_TRUE(col2.users_in_chunk(0).empty());
  EXPECT_EQ(col2.find(7), nullptr);
  auto out = bits();
  col2.set_chunk_bits(0, *out);
  EXPECT_EQ(out->count(), 0u);
}

TEST(UserColumn, Find) {
  UserTimes col({3, 65536, 131073}, {30, 40, 50});
  ASSERT_NE(col.find(3), nullptr);
  EXPECT_EQ(*col.find(3), 30);
  ASSERT_NE(col.find(65536), nullptr);
  EXPECT_EQ(*col.find(65536), 40);
  ASSERT_NE(col.find(131073), nullptr);
  EXPECT_EQ(*col.find(131073), 50);
  EXPECT_EQ(col.find(0), nullptr);
  EXPECT_EQ(col.find(4), nullptr);
  EXPECT_EQ(col.find(65535), nullptr);
  EXPECT_EQ(col.find(131074), nullptr);
  EXPECT_EQ(col.find(std::numeric_limits<UserIndex>::max()), nullptr);
  EXPECT_TRUE(col.contains(65536));
  EXPECT_FALSE(col.contains(65537));
}

TEST(UserColumn, SetChunkBitsUsesOffsets) {
  UserTimes col({1, 65535, 65536, 65600, 131072}, {1, 2, 3, 4, 5});
  auto out = bits();
  col.set_chunk_bits(0, *out);
  EXPECT_EQ(out->count(), 2u);
  EXPECT_TRUE(out->test(1));
  EXPECT_TRUE(out->test(65535));
  out->clear();
  col.set_chunk_bits(1, *out);
  EXPECT_EQ(out->count(), 2u);
  EXPECT_TRUE(out->test(0));
  EXPECT_TRUE(out->test(64));
  out->clear();
  col.set_chunk_bits(2, *out);
  EXPECT_EQ(out->count(), 1u);
  EXPECT_TRUE(out->test(0));
}

TEST(UserColumn, OtherValueTypes) {
  UserCounts counts({2, 9}, {5, 7});
  ASSERT_NE(counts.find(9), nullptr);
  EXPECT_EQ(*counts.find(9), 7);
  AttributeValue v;
  v.type = AttributeValue::Type::kString;
  v.text = "DE";
  UserAttributes attrs({4}, {v});
  ASSERT_NE(attrs.find(4), nullptr);
  EXPECT_EQ(attrs.find(4)->text, "DE");
}

TEST(UserIdHash, IsFnv1a64) {
  // The published FNV-1a 64-bit test vectors.
  EXPECT_EQ(user_id_hash(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(user_id_hash("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(user_id_hash("foobar"), 0x85944171f73967e8ULL);
}

// ----------------------------------------------------------- TimePredicate

TEST(TimePredicate, Matches) {
  TimePredicate range;
  range.lo = 100;
  range.hi = 200;
  range.match_present = true;
  EXPECT_FALSE(range.matches(99));
  EXPECT_TRUE(range.matches(100));  // both bounds inclusive
  EXPECT_TRUE(range.matches(200));
  EXPECT_FALSE(range.matches(201));
  EXPECT_FALSE(range.matches(kNoTime));

  TimePredicate blank_true;  // t absent
  blank_true.lo = kMin;
  blank_true.hi = kMax;
  blank_true.match_absent = true;
  EXPECT_TRUE(blank_true.matches(kNoTime));
  EXPECT_FALSE(blank_true.matches(0));
  EXPECT_FALSE(blank_true.matches(kMax));

  TimePredicate blank_false;  // t present
  blank_false.lo = kMin;
  blank_false.hi = kMax;
  blank_false.match_present = true;
  EXPECT_FALSE(blank_false.matches(kNoTime));
  EXPECT_TRUE(blank_false.matches(kMin));
  EXPECT_TRUE(blank_false.matches(-1));
  EXPECT_TRUE(blank_false.matches(kMax));
}

// -------------------------------------------------------- helpers: bulk/point

// Users 0..n-1; every third user has a time of (user * 1000).
struct Fixture {
  std::uint32_t n;
  NoProfiles profiles;
  EvalContext ctx;
  UserTimes column;
  explicit Fixture(std::uint32_t users) : n(users), ctx(users, nullptr, profiles), column(make(users)) {}
  static UserTimes make(std::uint32_t users) {
    std::vector<UserIndex> us;
    std::vector<Timestamp> ts;
    for (std::uint32_t u = 0; u < users; u += 3) {
      us.push_back(u);
      ts.push_back(static_cast<Timestamp>(u) * 1000);
    }
    return UserTimes(std::move(us), std::move(ts));
  }
};

// The bulk result must equal pred.matches(time_of(column, user)) for every
// user that exists, and have no bit for a user that does not.
void check_time_chunks(Fixture& f, const UserTimes* column, const TimePredicate& pred, std::uint64_t expected_total) {
  std::uint64_t total = 0;
  auto out = bits();
  std::uint32_t chunks = (f.n + kChunkUsers - 1) / kChunkUsers + 1;
  for (std::uint32_t chunk = 0; chunk < chunks; ++chunk) {
    out->clear();
    match_time_chunk(f.ctx, column, pred, chunk, *out);
    for (std::uint32_t off = 0; off < kChunkUsers; ++off) {
      std::uint64_t user = std::uint64_t{chunk} * kChunkUsers + off;
      bool want = user < f.n && pred.matches(time_of(column, static_cast<UserIndex>(user)));
      ASSERT_EQ(out->test(off), want) << pred.text << ": user " << user;
    }
    total += out->count();
  }
  EXPECT_EQ(total, expected_total) << pred.text;
}

TEST(Helpers, TimeOf) {
  UserTimes col({1, 70000}, {5, 6});
  EXPECT_EQ(time_of(&col, 1), 5);
  EXPECT_EQ(time_of(&col, 70000), 6);
  EXPECT_EQ(time_of(&col, 2), kNoTime);
  EXPECT_EQ(time_of(nullptr, 1), kNoTime);
}

TEST(Helpers, MatchTimeChunkRange) {
  Fixture f(70001);  // users 0..70000, chunks 0 and 1
  TimePredicate p;
  p.match_present = true;
  p.lo = 3000;       // user 3
  p.hi = 66000'000;  // user 66000
  p.text = "range";
  // Users u = 0 mod 3 with 3 <= u <= 66000: 3, 6, ..., 66000 -> 22000 users.
  check_time_chunks(f, &f.column, p, 22000);
}

TEST(Helpers, MatchTimeChunkBlankTrueIsTheAbsentUsers) {
  Fixture f(70001);
  TimePredicate p;
  p.match_absent = true;
  p.lo = kMin;
  p.hi = kMax;
  p.text = "blank: true";
  std::uint64_t present = f.column.size();  // 23334 users have a time
  check_time_chunks(f, &f.column, p, 70001 - present);
  // Without a column, every existing user is absent.
  check_time_chunks(f, nullptr, p, 70001);
}

TEST(Helpers, MatchTimeChunkBlankFalseIsThePresentUsers) {
  Fixture f(70001);
  TimePredicate p;
  p.match_present = true;
  p.lo = kMin;
  p.hi = kMax;
  p.text = "blank: false";
  check_time_chunks(f, &f.column, p, f.column.size());
  check_time_chunks(f, nullptr, p, 0);
}

TEST(Helpers, MatchTimeChunkAbsentOrInRange) {
  // A predicate may match both absent users and a range of times.
  Fixture f(1000);
  TimePredicate p;
  p.match_absent = true;
  p.match_present = true;
  p.lo = 0;
  p.hi = 9000;  // users 0, 3, 6, 9
  p.text = "absent or early";
  std::uint64_t absent = 1000 - f.column.size();
  check_time_chunks(f, &f.column, p, absent + 4);
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
  TimePredicate p;
  p.match_absent = true;
  p.text = "blank: true";
  match_time_chunk(f.ctx, nullptr, p, 0, *out);
  EXPECT_EQ(out->count(), 0u);
  out->clear();
  match_presence_chunk(f.ctx, nullptr, false, 0, *out);
  EXPECT_EQ(out->count(), 0u);
}

}  // namespace
}  // namespace retarget::sdk
