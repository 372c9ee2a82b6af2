//===- BatchLoader.cpp - Batches assembled by worker threads --------------===//
//
// Workers claim the epoch's batches in increasing order and fill them in
// parallel; the consumer takes them strictly in order, from a map of the
// finished ones. A worker claims a batch only while fewer than
// max(prefetch, workers) batches are claimed and not yet taken, which bounds
// the batches held ready by prefetch (a batch stays with its worker until
// it is done, so a window smaller than the workers would only idle them).
//
// startEpoch bumps a generation number: a worker still filling a batch of
// an abandoned epoch finishes it (each claim holds its own reference to
// its epoch's order) and then drops it, instead of being interrupted.
// A worker's exception is stored in place of its batch and rethrown when
// the consumer reaches that batch, so errors arrive in batch order too.
//
//===----------------------------------------------------------------------===//

#include "runtime/data/Dataset.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

namespace nsl::data {

namespace {

/// A finished batch or the exception that stopped it.
struct Result {
  Batch batch;
  std::exception_ptr error;
};

} // namespace

struct BatchLoader::Impl {
  Impl(const ImageSet &set, LoaderOptions options)
      : set(set), options(std::move(options)) {}

  const ImageSet &set;
  const LoaderOptions options;
  int64_t batches = 0;
  int64_t window = 1;

  std::mutex mutex;
  std::condition_variable workAvailable; // Workers wait here.
  std::condition_variable resultReady;   // The consumer waits here.
  bool stopping = false;
  bool started = false;
  uint64_t generation = 0;
  int64_t epoch = 0;
  std::shared_ptr<const std::vector<int64_t>> order;
  int64_t nextClaim = 0;   // The next batch a worker takes on.
  int64_t nextDeliver = 0; // The next batch next() returns.
  std::map<int64_t, Result> ready;
  std::vector<std::thread> threads;

  bool canClaim() const {
    return started && nextClaim < batches && nextClaim - nextDeliver < window;
  }
  Batch assemble(const std::vector<int64_t> &order, int64_t epoch,
                 int64_t index) const;
  void work();
  /// Ends the workers (an unfinished batch first) and joins them.
  void stop();
};

Batch BatchLoader::Impl::assemble(const std::vector<int64_t> &order,
                                  int64_t epoch, int64_t index) const {
  const ModelInput &input = options.input;
  const int64_t size = options.batchSize;
  Batch batch;
  batch.index = index;
  batch.valid = std::min(size, set.count - index * size);
  batch.images = runtime::Tensor(
      runtime::DType::F32, {size, input.channels, input.height, input.width});
  batch.labels = runtime::Tensor(runtime::DType::I64, {size});
  const int64_t sampleSize = input.channels * input.height * input.width;
  float *images = batch.images.data<float>();
  int64_t *labels = batch.labels.data<int64_t>();
  // The tensors start as zeros: the padding of a short last batch.
  for (int64_t i = 0; i < batch.valid; ++i) {
    int64_t sample = order[static_cast<size_t>(index * size + i)];
    prepareSample(set, sample, options, epoch, images + i * sampleSize);
    labels[i] = set.labels[static_cast<size_t>(sample)];
  }
  return batch;
}

void BatchLoader::Impl::work() {
  std::unique_lock<std::mutex> lock(mutex);
  for (;;) {
    workAvailable.wait(lock, [&] { return stopping || canClaim(); });
    if (stopping)
      return;
    int64_t index = nextClaim++;
    uint64_t claimGeneration = generation;
    std::shared_ptr<const std::vector<int64_t>> claimOrder = order;
    int64_t claimEpoch = epoch;
    lock.unlock();
    Result result;
    try {
      result.batch = assemble(*claimOrder, claimEpoch, index);
    } catch (...) {
      result.error = std::current_exception();
    }
    lock.lock();
    if (claimGeneration != generation)
      continue; // Its epoch was abandoned.
    ready.emplace(index, std::move(result));
    resultReady.notify_all();
  }
}

BatchLoader::BatchLoader(const ImageSet &set, LoaderOptions options)
    : impl_(std::make_unique<Impl>(set, std::move(options))) {
  const LoaderOptions &checked = impl_->options;
  if (checked.batchSize < 1)
    throw DataError(set.source + ": batch size " +
                    std::to_string(checked.batchSize) + ", expected 1 or more");
  if (checked.workers < 1 || checked.prefetch < 1)
    throw DataError(set.source + ": " + std::to_string(checked.workers) +
                    " worker(s) and a prefetch of " +
                    std::to_string(checked.prefetch) +
                    "; the loader needs at least 1 of each");
  checkSampleOptions(set, checked);
  if (set.labels.size() != static_cast<size_t>(set.count))
    throw DataError(set.source + ": " + std::to_string(set.labels.size()) +
                    " labels for " + std::to_string(set.count) + " images");
  impl_->batches = batchesPerEpoch();
  if (impl_->batches < 1)
    throw DataError(set.source + ": " + std::to_string(set.count) +
                    " sample(s) make no batch of " +
                    std::to_string(checked.batchSize) +
                    (checked.dropLast ? " (the last partial batch is dropped); "
                                        "use a smaller batch size"
                                      : ""));
  impl_->window = std::max(checked.prefetch, checked.workers);
  Impl *impl = impl_.get();
  try {
    for (int i = 0; i < checked.workers; ++i)
      impl->threads.emplace_back([impl] { impl->work(); });
  } catch (...) {
    // No destructor runs for a constructor that throws: join here.
    impl->stop();
    throw;
  }
}

void BatchLoader::Impl::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
  }
  workAvailable.notify_all();
  for (std::thread &thread : threads)
    thread.join();
}

BatchLoader::~BatchLoader() { impl_->stop(); }

int64_t BatchLoader::batchesPerEpoch() const {
  const int64_t count = impl_->set.count, size = impl_->options.batchSize;
  return impl_->options.dropLast ? count / size : (count + size - 1) / size;
}

void BatchLoader::startEpoch(int64_t epoch, int64_t firstBatch) {
  Impl &impl = *impl_;
  if (firstBatch < 0 || firstBatch > impl.batches)
    throw DataError(impl.set.source + ": first batch " +
                    std::to_string(firstBatch) + " of epoch " +
                    std::to_string(epoch) + " is out of range [0, " +
                    std::to_string(impl.batches) + "]");
  // Computed before taking the lock, so that workers keep going meanwhile.
  auto order = std::make_shared<const std::vector<int64_t>>(epochOrder(
      impl.set.count, impl.options.seed, epoch, impl.options.shuffle));
  {
    std::lock_guard<std::mutex> lock(impl.mutex);
    ++impl.generation;
    impl.started = true;
    impl.epoch = epoch;
    impl.order = std::move(order);
    impl.nextClaim = impl.nextDeliver = firstBatch;
    impl.ready.clear();
  }
  impl.workAvailable.notify_all();
}

std::optional<Batch> BatchLoader::next() {
  Impl &impl = *impl_;
  std::unique_lock<std::mutex> lock(impl.mutex);
  if (!impl.started)
    throw DataError(impl.set.source +
                    ": next() before startEpoch(); start an epoch first");
  if (impl.nextDeliver >= impl.batches)
    return std::nullopt;
  impl.resultReady.wait(lock,
                        [&] { return impl.ready.count(impl.nextDeliver) > 0; });
  auto found = impl.ready.find(impl.nextDeliver);
  Result result = std::move(found->second);
  impl.ready.erase(found);
  ++impl.nextDeliver;
  lock.unlock();
  impl.workAvailable.notify_all();
  if (result.error)
    std::rethrow_exception(result.error);
  return std::move(result.batch);
}

} // namespace nsl::data
