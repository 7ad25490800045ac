// The file-system seam: every file the engine writes or reads in its data
// directory goes through an Env, so that tests can lose unsynced writes
// (simulated power loss), fail an fsync or fill the disk (FaultInjectionEnv).
// RocksDB's Env/FileSystem is the model.
//
//   Env* env = Env::Default();
//   auto f = env->new_writable("dir/000001.log");   // created, truncated
//   (*f)->append(bytes); (*f)->sync();              // durable after sync()
//   env->sync_dir("dir");                           // the new name is durable
//   auto buf = env->read_file("dir/000001.log");    // the whole file, 8-aligned
//
// Every failure is a Status naming the file and what failed; nothing here
// throws or aborts.
//
// Thread safety: an Env may be used from any thread; one WritableFile by one
// thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "retarget/status.hpp"

namespace retarget::storage {

// A file's bytes in memory, 8-byte aligned (column blocks are word arrays).
class FileBuffer {
 public:
  explicit FileBuffer(std::size_t size) : words_((size + 7) / 8 + 1, 0), size_(size) {}
  char* data() { return reinterpret_cast<char*>(words_.data()); }
  const char* data() const { return reinterpret_cast<const char*>(words_.data()); }
  std::size_t size() const { return size_; }
  std::string_view view() const { return {data(), size_}; }
  void shrink(std::size_t size) { size_ = std::min(size_, size); }

 private:
  std::vector<std::uint64_t> words_;
  std::size_t size_;
};

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status append(std::string_view bytes) = 0;
  // Writes at a position (over bytes already there, or past the end).
  virtual Status write_at(std::uint64_t offset, std::string_view bytes) = 0;
  virtual Status truncate(std::uint64_t size) = 0;
  // Makes everything appended so far durable.
  virtual Status sync() = 0;
  virtual Status close() = 0;
  virtual std::uint64_t size() const = 0;  // the file's size (the furthest byte written)
};

// An exclusive lock on the data directory, released when destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;
  // The process-wide POSIX Env.
  static Env* Default();

  // A new file (truncated if it exists), written from the start.
  virtual Result<std::unique_ptr<WritableFile>> new_writable(const std::string& path) = 0;
  // An existing file, appended to (the write-ahead log after open).
  virtual Result<std::unique_ptr<WritableFile>> reopen_for_append(const std::string& path) = 0;
  virtual Result<std::shared_ptr<FileBuffer>> read_file(const std::string& path) = 0;
  virtual Result<std::shared_ptr<FileBuffer>> read_range(const std::string& path, std::uint64_t offset,
                                                         std::uint64_t length) = 0;
  virtual Result<std::uint64_t> file_size(const std::string& path) = 0;
  virtual bool exists(const std::string& path) = 0;
  // Atomically replaces `to` with `from`.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  virtual Status remove(const std::string& path) = 0;
  virtual Status truncate(const std::string& path, std::uint64_t size) = 0;
  virtual Status create_dirs(const std::string& dir) = 0;
  // Makes the directory's entries (new, renamed, removed names) durable.
  virtual Status sync_dir(const std::string& dir) = 0;
  // The names (not paths) in a directory, sorted.
  virtual Result<std::vector<std::string>> list(const std::string& dir) = 0;
  // An exclusive advisory lock (flock) on `path`, created if missing; fails
  // at once when another process holds it.
  virtual Result<std::unique_ptr<FileLock>> lock(const std::string& path) = 0;
};

// Writes `bytes` to `path` durably and atomically: a temporary file, synced,
// renamed over `path`, the directory synced.
Status write_file_atomically(Env& env, const std::string& path, std::string_view bytes);

// Removes a file that nothing names any more (a temporary, a replaced table or
// archive, garbage). Best effort by design: a failure leaves the file for the
// data directory's next garbage collection, and never fails the caller.
void remove_unreferenced(Env& env, const std::string& path);

}  // namespace retarget::storage
