// Must NOT compile under lint.thread_safety_catches: it reads a guarded member without its
// mutex. If it compiles, the analysis is not on and lint.thread_safety proves nothing.
#include "core/mutex.hpp"

namespace {

class counter {
 public:
  int read_unlocked() const { return n_; }  // the violation

 private:
  mutable sb::mutex m_;
  int n_ SB_GUARDED_BY(m_) = 0;
};

}  // namespace

int main() { return counter{}.read_unlocked(); }
