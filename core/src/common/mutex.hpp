// A mutex that clang's -Wthread-safety can check: members marked
// GUARDED_BY(mu) may only be touched with mu held, functions marked
// REQUIRES(mu) only called with it held (Abseil's and LevelDB's annotations).
//
//   Mutex mu_;
//   int count_ GUARDED_BY(mu_);
//   void bump() EXCLUDES(mu_) { MutexLock l(mu_); ++count_; }
//
// With g++ the annotations are empty; the CI's clang build checks them.
//
// Thread safety: a Mutex is a std::mutex; CondVar waits on one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define RT_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define RT_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) RT_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY RT_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) RT_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) RT_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) RT_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) RT_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) RT_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) RT_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS RT_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace retarget {

class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// Waits on a Mutex the caller holds (REQUIRES(mu) at the call site).
class CondVar {
 public:
  template <typename Pred>
  void wait(Mutex& mu, Pred pred) NO_THREAD_SAFETY_ANALYSIS {
    std::unique_lock<std::mutex> l(mu.native(), std::adopt_lock);
    cv_.wait(l, pred);
    l.release();
  }
  // Returns pred() (false on timeout).
  template <typename Pred>
  bool wait_for(Mutex& mu, std::chrono::milliseconds d, Pred pred) NO_THREAD_SAFETY_ANALYSIS {
    std::unique_lock<std::mutex> l(mu.native(), std::adopt_lock);
    bool r = cv_.wait_for(l, d, pred);
    l.release();
    return r;
  }
  void notify_all() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace retarget
