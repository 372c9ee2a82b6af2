//===- Dataset.h - Image classification data sets for training ----*- C++
//-*-===//
//
// The data side of `nsl-run fit` (DESIGN.md §2: the runtime owns data sets):
// labelled image sets read from MNIST/Fashion-MNIST IDX files (gzip or
// plain), the CIFAR-10/100 binary format, or a pair of .npy files, checked
// against the model they feed, and turned into batches (runtime Tensors) by
// worker threads while the kernels run.
//
// Every sample a batch holds is a pure function of (data, options, seed,
// epoch, sample index): the epoch's order is a permutation seeded by (seed,
// epoch), and a sample's augmentation is seeded by (seed, epoch, sample
// index). So batches do not depend on the number of workers or on timing,
// and a run resumed at any batch sees the same data as an uninterrupted one.
//
// C++17 and zlib; no MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_DATA_DATASET_H
#define NSL_RUNTIME_DATA_DATASET_H

#include "runtime/artifact/Tensor.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace nsl::data {

/// Every problem with data files or their fit to the model: the message names
/// the file (or the split) and the field, e.g. "train-images-idx3-ubyte.gz:
/// magic number 0x00000801, expected 0x00000803 (IDX images of unsigned
/// bytes)".
class DataError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Labelled images, C×H×W each, in file order.
struct ImageSet {
  /// The files the set was read from, for messages ("DIR/train-…gz").
  std::string source;
  int64_t count = 0;
  int64_t channels = 1;
  int64_t height = 0;
  int64_t width = 0;
  /// count×C×H×W pixels: either bytes (IDX, CIFAR, uint8 .npy), whose value
  /// is byte / 255, or floats (float .npy), taken as they are.
  std::vector<uint8_t> bytes;
  std::vector<float> floats;
  std::vector<int64_t> labels; // count
  /// The largest label + 1 the format allows (10 for MNIST and CIFAR-10, 100
  /// for CIFAR-100); 0 when the format does not say (.npy).
  int64_t formatClasses = 0;

  int64_t imageElements() const { return channels * height * width; }
  /// Writes image `index` (C×H×W) as floats: bytes / 255, or the floats.
  void copyImage(int64_t index, float *out) const;
};

/// MNIST-format IDX files (magic 0x00000803 images of unsigned bytes,
/// 0x00000801 labels), each gzip-compressed or plain; one channel.
ImageSet readIdx(const std::string &imagesPath, const std::string &labelsPath);
/// CIFAR binary records: CIFAR-10 (`classes` 10: one label byte, then 3072
/// bytes of 3×32×32 pixels) or CIFAR-100 (`classes` 100: coarse and fine
/// label bytes, the fine label is used). The files are concatenated.
ImageSet readCifar(const std::vector<std::string> &paths, int64_t classes);
/// Images of shape [N, C, H, W] or [N, H, W] (uint8, float32 or float64;
/// uint8 read through the .npy header's '|u1') and integer labels [N].
ImageSet readNpyPair(const std::string &imagesPath,
                     const std::string &labelsPath);

struct DataSplits {
  /// "idx", "cifar10", "cifar100" or "npy".
  std::string format;
  ImageSet train;
  ImageSet test;
};

/// Opens `[FORMAT:]DIR`. Without FORMAT the layout of DIR decides:
///   idx       {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
///   cifar10   data_batch_{1..5}.bin and test_batch.bin
///   cifar100  train.bin and test.bin
///   npy       {train,test}_{images,labels}.npy
/// A directory that matches none (or a missing file of the format) is a
/// DataError listing what was looked for.
DataSplits openDataDirectory(const std::string &spec);

/// What the model expects: its input's C, H, W and the number of classes.
struct ModelInput {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  int64_t classes = 0;
};

/// Checks that `set` fits the model: the same number of channels, images no
/// larger than the input (smaller ones are padded), every label in [0,
/// classes). `split` ("train", "test") names the set in the error.
void checkFitsModel(const ImageSet &set, const ModelInput &model,
                    const std::string &split);

/// Per-channel statistics of the pixel values (after / 255 for bytes).
struct Normalization {
  std::vector<double> mean;
  std::vector<double> std; // > 0
  bool empty() const { return mean.empty(); }
};

/// The mean and the (population) standard deviation of each channel over
/// every pixel of every image of the set, before padding; a channel of
/// constant value gets std 1.
Normalization computeNormalization(const ImageSet &set);

struct Augmentation {
  /// Random crop back to the input size after zero-padding by this many
  /// pixels on each side (torchvision's RandomCrop(size, padding)); 0: none.
  int64_t cropPadding = 0;
  /// Mirror left-right with probability 1/2.
  bool horizontalFlip = false;
  bool enabled() const { return cropPadding > 0 || horizontalFlip; }
};

struct LoaderOptions {
  int64_t batchSize = 1;
  ModelInput input;
  /// Empty: pixels are used as they are.
  Normalization normalization;
  Augmentation augmentation;
  /// A new order every epoch; otherwise file order.
  bool shuffle = false;
  uint64_t seed = 0;
  /// Training drops the last partial batch (the artifact's batch is static);
  /// evaluation keeps it, filled up with zeros (Batch::valid tells how many
  /// samples are real).
  bool dropLast = true;
  /// Threads assembling batches ahead of the consumer (at least 1), and the
  /// batches they may hold ready.
  int workers = 1;
  int prefetch = 2;
};

/// The sample order of one epoch: 0..count-1, or a permutation that depends
/// only on (seed, epoch) when shuffling.
std::vector<int64_t> epochOrder(int64_t count, uint64_t seed, int64_t epoch,
                                bool shuffle);

/// Writes sample `index` of `set` as the model's input (C×H×W floats at
/// `out`): the image, zero-padded centred to the input size (28×28 → 32×32
/// adds 2 on each side; an odd difference puts the extra row/column at the
/// bottom/right), then the augmentation seeded by (seed, epoch, index):
/// crop then flip, then the normalisation (padding included, as
/// torchvision's Pad → RandomCrop → RandomHorizontalFlip → ToTensor →
/// Normalize).
void prepareSample(const ImageSet &set, int64_t index,
                   const LoaderOptions &options, int64_t epoch, float *out);

/// Throws the DataError prepareSample would throw for any sample: images
/// that do not fit `options.input` (other channels, larger), a
/// normalisation not of the set's channel count or with a std ≤ 0, a
/// negative crop padding. BatchLoader checks this once, up front.
void checkSampleOptions(const ImageSet &set, const LoaderOptions &options);

struct Batch {
  int64_t index = 0; // In the epoch.
  int64_t valid = 0; // Real samples; the rest (evaluation's last batch) are
                     // zeros with label 0.
  runtime::Tensor images; // f32 [B, C, H, W]
  runtime::Tensor labels; // i64 [B]
};

/// Assembles an epoch's batches in order with worker threads.
class BatchLoader {
public:
  /// `set` must outlive the loader; checks the options (batch size ≥ 1, at
  /// least one batch per epoch, normalisation of the set's channel count).
  BatchLoader(const ImageSet &set, LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader &) = delete;
  BatchLoader &operator=(const BatchLoader &) = delete;

  /// count / B, rounded down when dropping the last partial batch, else up.
  int64_t batchesPerEpoch() const;
  /// Starts (or restarts) `epoch` at batch `firstBatch`, abandoning any
  /// unfinished epoch.
  void startEpoch(int64_t epoch, int64_t firstBatch = 0);
  /// The epoch's next batch, or nothing after its last one.
  std::optional<Batch> next();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace nsl::data

#endif // NSL_RUNTIME_DATA_DATASET_H
