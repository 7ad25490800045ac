// partition.hpp: the owner of a user, and the partition directories.
#include "partition.hpp"

#include <filesystem>
#include <regex>
#include <set>

namespace retarget::mpi {

std::uint64_t user_hash(std::string_view external_id) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : external_id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

Result<std::string> partition_directory(const std::string& configured, int rank, int processes, bool writes) {
  if (configured == ":memory:") return configured;
  namespace fs = std::filesystem;
  const fs::path dir(configured);
  std::error_code ec;
  if (fs::exists(dir / "RETARGET-FORMAT", ec))
    return Status::InvalidInput("'" + configured + "' is a single-process data directory (written by retarget); " +
                                "retarget-mpi keeps one directory per process under its own: " + configured +
                                "/rank-R-of-P (docs/scale-out.md: re-partitioning)");
  static const std::regex kPartition("rank-([0-9]+)-of-([0-9]+)");
  std::set<int> others;
  if (fs::is_directory(dir, ec)) {
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      std::smatch m;
      const std::string name = entry.path().filename().string();
      if (!std::regex_match(name, m, kPartition)) continue;
      int p = std::stoi(m[2].str());
      if (p != processes) others.insert(p);
    }
  }
  if (!others.empty())
    return Status::InvalidInput("'" + configured + "' is partitioned for " + std::to_string(*others.begin()) +
                                " processes, and this command runs " + std::to_string(processes) + " (run it with " +
                                "mpirun -np " + std::to_string(*others.begin()) + ", or re-partition the data: " +
                                "docs/scale-out.md)");
  if (writes) {
    fs::create_directories(dir, ec);
    if (ec) return Status::IoError("cannot create the data directory '" + configured + "': " + ec.message());
  }
  return (dir / ("rank-" + std::to_string(rank) + "-of-" + std::to_string(processes))).string();
}

}  // namespace retarget::mpi
