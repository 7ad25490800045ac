// HashSet128: the flat set of event content hashes behind idempotent ingest.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <utility>

#include "index/hash_set.hpp"

namespace retarget {
namespace {

TEST(HashSet128, InsertReportsWhetherTheKeyWasNew) {
  HashSet128 s;
  EXPECT_FALSE(s.contains({1, 2}));
  EXPECT_TRUE(s.insert({1, 2}));
  EXPECT_FALSE(s.insert({1, 2}));
  EXPECT_TRUE(s.contains({1, 2}));
  EXPECT_FALSE(s.contains({1, 3}));  // same slot, different key
  EXPECT_TRUE(s.insert({1, 3}));
  EXPECT_EQ(s.size(), 2u);
}

TEST(HashSet128, TheAllZeroKeyIsAKeyLikeAnyOther) {
  HashSet128 s;
  EXPECT_FALSE(s.contains({0, 0}));
  EXPECT_TRUE(s.insert({0, 0}));
  EXPECT_FALSE(s.insert({0, 0}));
  EXPECT_TRUE(s.contains({0, 0}));
  EXPECT_TRUE(s.insert({0, 1}));  // only b differs from the empty marker
  EXPECT_TRUE(s.contains({0, 1}));
  EXPECT_EQ(s.size(), 2u);
}

TEST(HashSet128, AgreesWithStdSetThroughManyGrowths) {
  // Low-entropy `a` values force long probe runs and wrap-arounds.
  HashSet128 s;
  std::set<std::pair<std::uint64_t, std::uint64_t>> reference;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    std::uint64_t a = rng() % 5000, b = rng() % 3;
    bool added = reference.emplace(a, b).second;
    ASSERT_EQ(s.insert({a, b}), added) << i;
  }
  EXPECT_EQ(s.size(), reference.size());
  for (int i = 0; i < 20000; ++i) {
    std::uint64_t a = rng() % 6000, b = rng() % 4;
    ASSERT_EQ(s.contains({a, b}), reference.count({a, b}) > 0);
  }
}

}  // namespace
}  // namespace retarget
