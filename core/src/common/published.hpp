// The current value of something that one writer replaces and many readers
// take a reference to: the engine's published Version, the user-id table.
//
//   Published<Version> current_;
//   current_.store(std::make_shared<const Version>(...));  // writer
//   std::shared_ptr<const Version> v = current_.load();    // any reader
//
// Thread safety: load() and store() may be called from any thread at once.
// The lock is held only for a reference-count change, never for the work
// that built the value, so a reader waits nanoseconds, not for the writer.
// The old value is released outside the lock (its destructor can be long).
//
// Why not std::atomic<std::shared_ptr>: libstdc++ 12's load() releases its
// internal lock bit with relaxed ordering, so its read of the pointer is not
// ordered before the next store; ThreadSanitizer reports it as the data race
// it formally is (fixed in later libstdc++).
#pragma once

#include <memory>
#include <utility>

#include "common/mutex.hpp"

namespace retarget {

template <typename T>
class Published {
 public:
  Published() = default;
  Published(const Published&) = delete;
  Published& operator=(const Published&) = delete;

  std::shared_ptr<const T> load() const EXCLUDES(mu_) {
    MutexLock l(mu_);
    return value_;
  }

  void store(std::shared_ptr<const T> next) EXCLUDES(mu_) {
    {
      MutexLock l(mu_);
      value_.swap(next);
    }
    // `next` now holds the previous value; it is released here, unlocked.
  }

 private:
  mutable Mutex mu_;
  std::shared_ptr<const T> value_ GUARDED_BY(mu_);
};

}  // namespace retarget
