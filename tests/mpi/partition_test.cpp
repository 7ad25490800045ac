// The partition rules of retarget-mpi (mpi/partition.hpp): the documented
// hash, the owner of a user, and the directories refused.
#include "partition.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace retarget::mpi {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("retarget-partition-test-" + name);
  fs::remove_all(p);
  return p;
}

TEST(Partition, TheHashIsFnv1a64OfTheIdBytes) {
  // The published FNV-1a test vectors: the hash is stable across releases.
  EXPECT_EQ(user_hash(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(user_hash("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(user_hash("foobar"), 0x85944171f73967e8ull);
}

TEST(Partition, EveryUserHasOneOwnerAndTheOwnersSpreadEvenly) {
  constexpr int kProcesses = 3, kUsers = 30000;
  int per_rank[kProcesses] = {0, 0, 0};
  for (int i = 0; i < kUsers; ++i) {
    int r = owner_of("u" + std::to_string(i), kProcesses);
    ASSERT_GE(r, 0);
    ASSERT_LT(r, kProcesses);
    ++per_rank[r];
  }
  for (int n : per_rank) EXPECT_NEAR(n, kUsers / kProcesses, kUsers / kProcesses / 10);
  EXPECT_EQ(owner_of("u42", 1), 0);
}

TEST(Partition, EachRankGetsItsOwnDirectoryCreatedByAWrite) {
  fs::path d = fresh_dir("own");
  auto dir = partition_directory(d.string(), 1, 3, /*writes=*/true);
  ASSERT_TRUE(dir.ok()) << dir.status().message();
  EXPECT_EQ(*dir, (d / "rank-1-of-3").string());
  EXPECT_TRUE(fs::is_directory(d));
  auto memory = partition_directory(":memory:", 1, 3, true);
  ASSERT_TRUE(memory.ok());
  EXPECT_EQ(*memory, ":memory:");
}

TEST(Partition, ADirectoryOfAnotherProcessCountIsRefused) {
  fs::path d = fresh_dir("other-p");
  fs::create_directories(d / "rank-0-of-2");
  fs::create_directories(d / "rank-1-of-2");
  EXPECT_TRUE(partition_directory(d.string(), 0, 2, false).ok());
  auto refused = partition_directory(d.string(), 0, 3, true);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(refused.status().message().find("partitioned for 2 processes"), std::string::npos)
      << refused.status().message();
  EXPECT_FALSE(fs::exists(d / "rank-0-of-3"));
}

TEST(Partition, ASingleProcessDirectoryIsRefused) {
  fs::path d = fresh_dir("single");
  fs::create_directories(d);
  std::ofstream(d / "RETARGET-FORMAT") << "retarget data directory 2\n";
  auto refused = partition_directory(d.string(), 0, 2, true);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("single-process data directory"), std::string::npos);
}

}  // namespace
}  // namespace retarget::mpi
