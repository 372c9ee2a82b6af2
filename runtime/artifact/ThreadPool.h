//===- ThreadPool.h - A fixed pool of threads for kernel launches -*- C++
//-*-===//
//
// Kernels of the nsl-cpu-1 ABI compute a range [begin, end) of their
// outermost parallel dimension, so one launch is one blocking parallel_for
// over contiguous chunks. The pool keeps its threads for its lifetime and
// the calling thread works too, so a pool of one thread runs everything
// inline.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_ARTIFACT_THREADPOOL_H
#define NSL_RUNTIME_ARTIFACT_THREADPOOL_H

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace nsl::runtime {

class ThreadPool {
public:
  /// A pool of `threads` threads, the caller of parallelFor included;
  /// 0 means one per hardware thread.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  /// The number of threads, the caller included.
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  /// body(begin, end, slot) for one chunk: `slot` is in [0, size()) and no
  /// two calls running at the same time share one, so that it can index
  /// per-thread scratch memory.
  using Body = std::function<void(int64_t begin, int64_t end, int slot)>;

  /// Splits [0, extent) into min(size(), extent) contiguous chunks of
  /// nearly equal length, calls body once per chunk from the pool's threads
  /// and returns when all are done. If a body throws, the other chunks still
  /// run and the first exception is rethrown here. One parallelFor runs at
  /// a time (calls from several threads are serialised).
  void parallelFor(int64_t extent, const Body &body);

private:
  void work();
  void runChunks();
  void stop();

  std::vector<std::thread> workers_;
  std::mutex callMutex_; // Serialises parallelFor calls.
  std::mutex mutex_;
  std::condition_variable workReady_, workDone_;
  bool stopping_ = false;
  uint64_t generation_ = 0; // Counts jobs; a change wakes the workers.
  int active_ = 0;          // Workers that may still read the job.
  // The job; all of it is read and written under mutex_.
  const Body *body_ = nullptr;
  int64_t extent_ = 0, chunks_ = 0;
  int64_t nextChunk_ = 0, doneChunks_ = 0;
  std::exception_ptr error_;
};

} // namespace nsl::runtime

#endif // NSL_RUNTIME_ARTIFACT_THREADPOOL_H
