// A mutex that Clang's thread-safety analysis understands (-Wthread-safety, on in the clang
// build), and the annotations that say what it guards. libstdc++'s std::mutex carries no
// annotations, so members marked SB_GUARDED_BY(m_) need m_ to be an sb::mutex, locked through
// sb::mutex_lock (scoped) or sb::unique_lock (scoped, unlockable, usable with a condition
// variable). Under GCC the annotations expand to nothing and these are thin wrappers of the std
// types.
//
// A condition variable's predicate runs under the lock but the analysis cannot see that inside
// a lambda: wait in a loop written in the function that holds the lock, e.g.
//   sb::unique_lock lock(m_);
//   while (!ready_) cv_.wait(lock.native());
#pragma once

#include <mutex>

#if defined(__clang__)
#define SB_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SB_THREAD_ANNOTATION(x)
#endif

#define SB_CAPABILITY(x) SB_THREAD_ANNOTATION(capability(x))
#define SB_SCOPED_CAPABILITY SB_THREAD_ANNOTATION(scoped_lockable)
#define SB_GUARDED_BY(x) SB_THREAD_ANNOTATION(guarded_by(x))
#define SB_PT_GUARDED_BY(x) SB_THREAD_ANNOTATION(pt_guarded_by(x))
#define SB_REQUIRES(...) SB_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define SB_ACQUIRE(...) SB_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define SB_RELEASE(...) SB_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define SB_EXCLUDES(...) SB_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define SB_NO_THREAD_SAFETY_ANALYSIS SB_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace sb {

class SB_CAPABILITY("mutex") mutex {
 public:
  void lock() SB_ACQUIRE() { m_.lock(); }
  void unlock() SB_RELEASE() { m_.unlock(); }
  // For std::condition_variable, through unique_lock::native().
  std::mutex& native() noexcept { return m_; }

 private:
  std::mutex m_;
};

// Holds `m` for its scope.
class SB_SCOPED_CAPABILITY mutex_lock {
 public:
  explicit mutex_lock(mutex& m) SB_ACQUIRE(m) : m_(m) { m_.lock(); }
  ~mutex_lock() SB_RELEASE() { m_.unlock(); }
  mutex_lock(const mutex_lock&) = delete;
  mutex_lock& operator=(const mutex_lock&) = delete;

 private:
  mutex& m_;
};

// Holds `m` for its scope unless unlocked; native() is what std::condition_variable waits on
// (the wait releases and retakes the mutex, so the lock is held again when it returns).
class SB_SCOPED_CAPABILITY unique_lock {
 public:
  explicit unique_lock(mutex& m) SB_ACQUIRE(m) : l_(m.native()) {}
  ~unique_lock() SB_RELEASE() {}
  unique_lock(const unique_lock&) = delete;
  unique_lock& operator=(const unique_lock&) = delete;
  void lock() SB_ACQUIRE() { l_.lock(); }
  void unlock() SB_RELEASE() { l_.unlock(); }
  std::unique_lock<std::mutex>& native() noexcept { return l_; }

 private:
  std::unique_lock<std::mutex> l_;
};

}  // namespace sb
