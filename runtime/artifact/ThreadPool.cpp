//===- ThreadPool.cpp - A fixed pool of threads for kernel launches -------===//

#include "runtime/artifact/ThreadPool.h"

#include "runtime/artifact/Error.h"

#include <algorithm>
#include <system_error>
#include <utility>

namespace nsl::runtime {

ThreadPool::ThreadPool(int threads) {
  if (threads < 0)
    throw Error("a thread pool needs a positive number of threads, got " +
                std::to_string(threads));
  if (threads == 0)
    threads =
        static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  try {
    for (int i = 1; i < threads; ++i)
      workers_.emplace_back([this] { work(); });
  } catch (const std::system_error &e) {
    stop(); // Joins the threads started so far.
    throw Error("cannot start " + std::to_string(threads) +
                " threads: " + e.what());
  }
}

ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  workReady_.notify_all();
  for (std::thread &worker : workers_)
    if (worker.joinable())
      worker.join();
}

void ThreadPool::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  uint64_t seen = generation_;
  for (;;) {
    workReady_.wait(lock, [&] { return stopping_ || generation_ != seen; });
    if (stopping_)
      return;
    seen = generation_;
    ++active_;
    lock.unlock();
    runChunks();
    lock.lock();
    if (--active_ == 0 && doneChunks_ == chunks_)
      workDone_.notify_all();
  }
}

void ThreadPool::runChunks() {
  for (;;) {
    int64_t chunk, chunks, extent;
    const Body *body;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (nextChunk_ == chunks_)
        return;
      chunk = nextChunk_++;
      chunks = chunks_;
      extent = extent_;
      body = body_;
    }
    // Chunk i is [⌊i·extent/chunks⌋, ⌊(i+1)·extent/chunks⌋): contiguous,
    // lengths differing by at most one; computed so that i·extent cannot
    // overflow.
    auto boundary = [&](int64_t i) {
      return extent / chunks * i + extent % chunks * i / chunks;
    };
    try {
      // The chunk index is a valid slot: chunks ≤ size().
      (*body)(boundary(chunk), boundary(chunk + 1), static_cast<int>(chunk));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_)
        error_ = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    ++doneChunks_;
  }
}

void ThreadPool::parallelFor(int64_t extent, const Body &body) {
  if (extent <= 0)
    return;
  if (workers_.empty() || extent == 1) {
    body(0, extent, 0);
    return;
  }
  std::lock_guard<std::mutex> call(callMutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    body_ = &body;
    extent_ = extent;
    chunks_ = std::min<int64_t>(size(), extent);
    nextChunk_ = doneChunks_ = 0;
    error_ = nullptr;
    ++generation_;
  }
  workReady_.notify_all();
  runChunks();
  std::unique_lock<std::mutex> lock(mutex_);
  workDone_.wait(lock, [&] { return doneChunks_ == chunks_ && active_ == 0; });
  body_ = nullptr;
  if (error_)
    std::rethrow_exception(std::exchange(error_, nullptr));
}

} // namespace nsl::runtime
