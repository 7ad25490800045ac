// An Env for tests that injects the faults real disks have: writes that were
// never synced vanish on a power loss, an fsync fails, the disk fills up.
// RocksDB's FaultInjectionTestFS is the model.
//
//   FaultInjectionEnv env(Env::Default());
//   ... open an engine on &env, ingest ...
//   env.set_space_limit(1 << 20);        // later writes fail with ENOSPC
//   env.fail_syncs(true);                // fsync fails from now on
//   env.drop_unsynced();                 // power loss: every file back to its last sync
//   env.crash_after(17);                 // a crash point: the 18th change to the disk and
//                                        // every later one fail (then drop_unsynced)
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "storage/env.hpp"

namespace retarget::storage {

class FaultInjectionEnv final : public Env {
 public:
  explicit FaultInjectionEnv(Env* base) : base_(base) {}

  // Simulated power loss: every file written through this Env is cut back to
  // what was synced, and files created since their directory was last synced
  // disappear. REQUIRES: no file open for writing is used afterwards.
  void drop_unsynced();
  void fail_syncs(bool on) { fail_syncs_ = on; }
  // Total bytes this Env may write from now on (appends past it fail with
  // "No space left on device"); a negative value removes the limit.
  void set_space_limit(std::int64_t bytes);
  std::uint64_t bytes_written() const { return written_.load(); }
  // A crash point (the kill-point harness): the next `ops` changes to the
  // disk (file creations, writes, truncations, syncs, renames, removals)
  // go through, every later one fails, so the disk stays as it was at that
  // instant. Follow with drop_unsynced() for what a power loss then keeps.
  void crash_after(std::uint64_t ops);
  bool crashed() const { return crashed_.load(); }
  // Changes to the disk made through this Env so far (to size a phase).
  std::uint64_t changes() const { return changes_.load(); }

  Result<std::unique_ptr<WritableFile>> new_writable(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> reopen_for_append(const std::string& path) override;
  Result<std::shared_ptr<FileBuffer>> read_file(const std::string& path) override { return base_->read_file(path); }
  Result<std::shared_ptr<FileBuffer>> read_range(const std::string& path, std::uint64_t offset,
                                                 std::uint64_t length) override {
    return base_->read_range(path, offset, length);
  }
  Result<std::uint64_t> file_size(const std::string& path) override { return base_->file_size(path); }
  bool exists(const std::string& path) override { return base_->exists(path); }
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status truncate(const std::string& path, std::uint64_t size) override;
  Status create_dirs(const std::string& dir) override;
  Status sync_dir(const std::string& dir) override;
  Result<std::vector<std::string>> list(const std::string& dir) override { return base_->list(dir); }
  Result<std::unique_ptr<FileLock>> lock(const std::string& path) override { return base_->lock(path); }

  // Used by the files this Env hands out.
  Status change(const char* what, const std::string& path);  // counts one; fails once crashed
  Status charge(std::size_t bytes, const std::string& path);
  bool syncs_fail() const { return fail_syncs_; }
  void synced(const std::string& path, std::uint64_t size);
  void written(const std::string& path, std::uint64_t offset, std::uint64_t length);

 private:
  Env* base_;
  std::atomic<bool> fail_syncs_{false};
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> changes_{0};
  std::atomic<std::int64_t> changes_left_{-1};  // -1: no crash point
  std::atomic<bool> crashed_{false};
  std::mutex mu_;
  std::int64_t space_left_ = -1;                 // guarded by mu_; -1 = no limit
  std::map<std::string, std::uint64_t> synced_;  // guarded by mu_: file -> durable size
  std::set<std::string> unsynced_names_;         // guarded by mu_: created since their dir was synced
  std::map<std::string, std::vector<std::pair<std::uint64_t, std::uint64_t>>> unsynced_ranges_;  // guarded by mu_
  // guarded by mu_: durable files a rename replaced before the directory was
  // synced (a power loss brings them back), by name.
  std::map<std::string, std::string> replaced_;
};

}  // namespace retarget::storage
