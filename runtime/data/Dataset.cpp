//===- Dataset.cpp - Image classification data sets for training ----------===//
//
// Reading and checking the files, the epoch order and the preparation of one
// sample; BatchLoader.cpp turns samples into batches.
//
// Randomness is computed here rather than with <random>'s distributions or
// std::shuffle, whose results the standard leaves to each library: the same
// (seed, epoch, index) must give the same data on every machine. The scheme:
//
//   mix(z)          the splitmix64 output function:
//                     z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9
//                     z = (z ^ z >> 27) * 0x94d049bb133111eb
//                     z ^ z >> 31
//   combine(h, v)   mix(h ^ mix(v + γ)), γ = 0x9e3779b97f4a7c15
//   epochKey        combine(mix(seed), epoch)
//   sampleKey       combine(epochKey, sample index)
//   generator(key)  splitmix64 seeded with key: state += γ; yield mix(state)
//   below(n)        a generator output r, redrawn while r < 2^64 mod n
//                   (so that r mod n is unbiased), then r mod n
//
// epochOrder shuffles 0..count-1 with Fisher–Yates: for i = count-1 down to
// 1, swap element i with element below(i + 1), drawn from
// generator(epochKey). A sample's augmentation draws from
// generator(sampleKey): with crop padding p, the crop's row offset and then
// its column offset, each below(2p + 1); then, with flipping, one output r
// whose top bit set means mirror.
//
//===----------------------------------------------------------------------===//

#include "runtime/data/Dataset.h"

#include "runtime/support/Npy.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <utility>

namespace nsl::data {
namespace fs = std::filesystem;

namespace {

//===----------------------------------------------------------------------===//
// Randomness (the scheme is in the file comment)
//===----------------------------------------------------------------------===//

constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ULL;

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t combine(uint64_t hash, uint64_t value) {
  return mix(hash ^ mix(value + kGamma));
}

uint64_t epochKey(uint64_t seed, int64_t epoch) {
  return combine(mix(seed), static_cast<uint64_t>(epoch));
}

class SplitMix64 {
public:
  explicit SplitMix64(uint64_t key) : state(key) {}
  uint64_t next() {
    state += kGamma;
    return mix(state);
  }
  /// Uniform in [0, n), n ≥ 1.
  uint64_t below(uint64_t n) {
    // 2^64 mod n: the outputs under it would make small results likelier.
    uint64_t threshold = (0 - n) % n;
    uint64_t r = next();
    while (r < threshold)
      r = next();
    return r % n;
  }

private:
  uint64_t state;
};

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

std::string joinPaths(const std::vector<std::string> &paths) {
  std::string joined;
  for (const std::string &path : paths)
    joined += (joined.empty() ? "" : ", ") + path;
  return joined;
}

struct GzCloser {
  void operator()(gzFile_s *file) const { gzclose(file); }
};

/// The content of `path`, decompressed if it is gzip (zlib passes other
/// files through as they are).
std::vector<uint8_t> readFileBytes(const std::string &path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw DataError(path + ": file not found");
  if (!fs::is_regular_file(path, ec))
    throw DataError(path + ": not a regular file");
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (!file)
    throw DataError(path + ": cannot open for reading");
  gzbuffer(file.get(), 1 << 17);
  std::vector<uint8_t> bytes;
  constexpr unsigned kChunk = 1 << 20;
  for (;;) {
    size_t size = bytes.size();
    bytes.resize(size + kChunk);
    int read = gzread(file.get(), bytes.data() + size, kChunk);
    bytes.resize(size + static_cast<size_t>(std::max(read, 0)));
    if (read <= 0)
      break;
  }
  // A gzip stream cut short reads as its first part, then reports
  // Z_BUF_ERROR here instead of failing the read. The message lives in the
  // gzFile (copy it before closing) and starts with the path, as ours does.
  int status = Z_OK;
  std::string message = gzerror(file.get(), &status);
  if (message.compare(0, path.size() + 2, path + ": ") == 0)
    message.erase(0, path.size() + 2);
  int closeStatus = gzclose(file.release());
  if (status == Z_OK && closeStatus != Z_OK)
    message = "zlib error " + std::to_string(closeStatus);
  if (status != Z_OK || closeStatus != Z_OK)
    throw DataError(path + ": cannot read the gzip data (" + message +
                    "); the file is truncated or corrupt");
  return bytes;
}

uint32_t bigEndian32(const std::vector<uint8_t> &bytes, size_t offset) {
  return static_cast<uint32_t>(bytes[offset]) << 24 |
         static_cast<uint32_t>(bytes[offset + 1]) << 16 |
         static_cast<uint32_t>(bytes[offset + 2]) << 8 | bytes[offset + 3];
}

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

/// Checks an IDX file of unsigned bytes with `rank` dimensions (`what`:
/// "images", "labels"): its magic number, and a size of exactly the header
/// and the data its dimensions announce. Returns the dimensions.
std::vector<int64_t> checkIdx(const std::string &path,
                              const std::vector<uint8_t> &bytes, int rank,
                              const std::string &what) {
  const uint32_t expectedMagic = 0x00000800U | static_cast<uint32_t>(rank);
  const size_t headerSize = 4 + 4 * static_cast<size_t>(rank);
  if (bytes.size() < 4)
    throw DataError(path + ": size " + std::to_string(bytes.size()) +
                    " bytes is too short for an IDX magic number");
  uint32_t magic = bigEndian32(bytes, 0);
  if (magic != expectedMagic)
    throw DataError(path + ": magic number " + hex32(magic) + ", expected " +
                    hex32(expectedMagic) + " (IDX " + what +
                    " of unsigned bytes)");
  if (bytes.size() < headerSize)
    throw DataError(path + ": size " + std::to_string(bytes.size()) +
                    " bytes is too short for the IDX header of " +
                    std::to_string(headerSize) + " bytes (truncated)");
  std::vector<int64_t> dims;
  std::string dimsText;
  uint64_t elements = 1;
  for (int i = 0; i < rank; ++i) {
    uint32_t dim = bigEndian32(bytes, 4 + 4 * static_cast<size_t>(i));
    dims.push_back(dim);
    dimsText += (i ? "x" : "") + std::to_string(dim);
    // Saturate: a product this large cannot match any file anyway.
    elements = dim && elements > (uint64_t(1) << 48) / dim ? uint64_t(1) << 48
                                                           : elements * dim;
  }
  uint64_t expectedSize = headerSize + elements;
  if (bytes.size() != expectedSize)
    throw DataError(path + ": size " + std::to_string(bytes.size()) +
                    " bytes, expected " + std::to_string(expectedSize) + " (" +
                    std::to_string(headerSize) + "-byte header + " + dimsText +
                    " bytes of " + what + "): " +
                    (bytes.size() < expectedSize ? "truncated"
                                                 : "trailing bytes after the "
                                                   "data"));
  return dims;
}

/// `item`: "sample 3", "record 3".
[[noreturn]] void labelOutOfRange(const std::string &path, int64_t label,
                                  const std::string &item, int64_t classes,
                                  const std::string &field = "label") {
  throw DataError(path + ": " + field + " " + std::to_string(label) + " of " +
                  item + " is out of range [0, " + std::to_string(classes) +
                  ")");
}

/// readNpy with the message in this library's form ("PATH: problem").
support::NpyArray readNpyFile(const std::string &path) {
  try {
    return support::readNpy(path);
  } catch (const support::NpyError &e) {
    std::string message = e.what();
    std::string prefix = "npy file '" + path + "': ";
    if (message.compare(0, prefix.size(), prefix) == 0)
      message.erase(0, prefix.size());
    throw DataError(path + ": " + message);
  }
}

/// Calls visit(channel, element) for every pixel of `set`.
template <typename Visit> void forEachPixel(const ImageSet &set, Visit visit) {
  const size_t channels = static_cast<size_t>(set.channels);
  const size_t plane = static_cast<size_t>(set.height * set.width);
  for (size_t n = 0; n < static_cast<size_t>(set.count); ++n)
    for (size_t c = 0; c < channels; ++c)
      for (size_t i = 0, base = (n * channels + c) * plane; i < plane; ++i)
        visit(c, base + i);
}

/// The statistics of byte pixels, from exact per-channel histograms. A
/// channel of one value gets std 1 even where the mean's rounding would
/// leave a tiny variance.
Normalization byteStatistics(const ImageSet &set) {
  std::vector<std::array<uint64_t, 256>> histogram(
      static_cast<size_t>(set.channels), std::array<uint64_t, 256>{});
  forEachPixel(set, [&](size_t c, size_t i) { ++histogram[c][set.bytes[i]]; });
  Normalization result;
  for (const std::array<uint64_t, 256> &counts : histogram) {
    double pixels = 0, sum = 0, squares = 0;
    int values = 0;
    for (size_t v = 0; v < 256; ++v) {
      pixels += static_cast<double>(counts[v]);
      sum += static_cast<double>(counts[v]) * (static_cast<double>(v) / 255.0);
      values += counts[v] > 0;
    }
    double mean = pixels > 0 ? sum / pixels : 0.0;
    for (size_t v = 0; v < 256; ++v)
      squares += static_cast<double>(counts[v]) *
                 std::pow(static_cast<double>(v) / 255.0 - mean, 2);
    result.mean.push_back(mean);
    result.std.push_back(values > 1 ? std::sqrt(squares / pixels) : 1.0);
  }
  return result;
}

/// The statistics of float pixels, in two passes (the mean, then the
/// squared deviations), which keep the variance accurate where a sum of
/// squares would cancel.
Normalization floatStatistics(const ImageSet &set) {
  const size_t channels = static_cast<size_t>(set.channels);
  std::vector<double> sum(channels, 0.0), squares(channels, 0.0);
  const float infinity = std::numeric_limits<float>::infinity();
  std::vector<float> low(channels, infinity), high(channels, -infinity);
  forEachPixel(set, [&](size_t c, size_t i) {
    sum[c] += set.floats[i];
    low[c] = std::min(low[c], set.floats[i]);
    high[c] = std::max(high[c], set.floats[i]);
  });
  double pixels = static_cast<double>(set.count * set.height * set.width);
  Normalization result;
  for (size_t c = 0; c < channels; ++c)
    result.mean.push_back(pixels > 0 ? sum[c] / pixels : 0.0);
  forEachPixel(set, [&](size_t c, size_t i) {
    squares[c] += std::pow(set.floats[i] - result.mean[c], 2);
  });
  for (size_t c = 0; c < channels; ++c)
    result.std.push_back(high[c] > low[c] ? std::sqrt(squares[c] / pixels)
                                          : 1.0);
  return result;
}

/// Sets the image fields of `set` from .npy images [N, C, H, W] or [N, H, W].
void takeNpyImages(const std::string &path, support::NpyArray &images,
                   ImageSet &set) {
  const std::vector<int64_t> &shape = images.shape;
  bool positive = shape.size() >= 3;
  for (size_t i = 1; i < shape.size(); ++i)
    positive = positive && shape[i] > 0;
  if ((shape.size() != 3 && shape.size() != 4) || !positive)
    throw DataError(path + ": images of shape " +
                    runtime::shapeToString(shape) +
                    ", expected [N, C, H, W] or [N, H, W] with C, H, W > 0");
  set.count = shape[0];
  set.channels = shape.size() == 4 ? shape[1] : 1;
  set.height = shape[shape.size() - 2];
  set.width = shape[shape.size() - 1];
  if (images.dtype == "u8") {
    set.bytes.assign(images.values.begin(), images.values.end());
    return;
  }
  if (images.dtype != "f32" && images.dtype != "f64")
    throw DataError(path + ": images of dtype " + images.dtype +
                    ", expected uint8, float32 or float64");
  set.floats.resize(images.values.size());
  for (size_t i = 0; i < images.values.size(); ++i) {
    if (!std::isfinite(images.values[i]))
      throw DataError(path + ": pixel " + std::to_string(i) + " is " +
                      std::to_string(images.values[i]) +
                      "; pixels must be finite");
    set.floats[i] = static_cast<float>(images.values[i]);
  }
}

struct Layout {
  const char *format;
  /// The files, each either name or name.gz where `gzipOptional`.
  std::vector<const char *> files;
  bool gzipOptional;
  const char *description;
};

const std::vector<Layout> &layouts() {
  static const std::vector<Layout> kLayouts = {
      {"idx",
       {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
       true,
       "{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]"},
      {"cifar10",
       {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
        "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"},
       false,
       "data_batch_{1..5}.bin and test_batch.bin"},
      {"cifar100", {"train.bin", "test.bin"}, false, "train.bin and test.bin"},
      {"npy",
       {"train_images.npy", "train_labels.npy", "test_images.npy",
        "test_labels.npy"},
       false,
       "{train,test}_{images,labels}.npy"},
  };
  return kLayouts;
}

const Layout *findLayout(const std::string &format) {
  for (const Layout &layout : layouts())
    if (format == layout.format)
      return &layout;
  return nullptr;
}

std::string inDirectory(const std::string &dir, const std::string &name) {
  return (fs::path(dir) / name).string();
}

/// The path of `name` in `dir` (or of name.gz), or "" if absent.
std::string findFile(const std::string &dir, const std::string &name,
                     bool gzipOptional) {
  std::error_code ec;
  for (const std::string &candidate :
       {name, gzipOptional ? name + ".gz" : name})
    if (fs::exists(inDirectory(dir, candidate), ec))
      return inDirectory(dir, candidate);
  return "";
}

/// The first layout of which `dir` holds any file, or nullptr.
const Layout *detectLayout(const std::string &dir) {
  for (const Layout &layout : layouts())
    for (const char *name : layout.files)
      if (!findFile(dir, name, layout.gzipOptional).empty())
        return &layout;
  return nullptr;
}

std::string layoutList() {
  std::string list;
  for (const Layout &layout : layouts())
    list += std::string(list.empty() ? "" : "; ") + layout.format + ": " +
            layout.description;
  return list;
}

[[noreturn]] void noDataSet(const std::string &dir) {
  // Archives often unpack into a folder of their own
  // (cifar-10-batches-bin/): point at it.
  std::string hint;
  std::error_code ec;
  for (const fs::directory_entry &entry : fs::directory_iterator(dir, ec))
    if (entry.is_directory(ec) && detectLayout(entry.path().string()))
      hint = " (" + entry.path().string() + " holds one)";
  throw DataError(dir + ": no data set found" + hint + "; looked for " +
                  layoutList());
}

/// The paths of every file of `layout` in `dir`, in the layout's order.
std::vector<std::string> layoutFiles(const std::string &dir,
                                     const Layout &layout) {
  std::vector<std::string> paths;
  for (const char *name : layout.files) {
    std::string path = findFile(dir, name, layout.gzipOptional);
    if (path.empty())
      throw DataError(inDirectory(dir, name) +
                      (layout.gzipOptional ? "[.gz]" : "") +
                      ": file not found; the " + layout.format +
                      " layout needs " + layout.description);
    paths.push_back(path);
  }
  return paths;
}

} // namespace

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

void ImageSet::copyImage(int64_t index, float *out) const {
  size_t elements = static_cast<size_t>(imageElements());
  size_t start = static_cast<size_t>(index) * elements;
  if (!bytes.empty()) {
    for (size_t i = 0; i < elements; ++i)
      out[i] = static_cast<float>(bytes[start + i]) / 255.0f;
    return;
  }
  std::copy(floats.begin() + static_cast<std::ptrdiff_t>(start),
            floats.begin() + static_cast<std::ptrdiff_t>(start + elements),
            out);
}

ImageSet readIdx(const std::string &imagesPath, const std::string &labelsPath) {
  std::vector<uint8_t> images = readFileBytes(imagesPath);
  std::vector<int64_t> imageDims = checkIdx(imagesPath, images, 3, "images");
  std::vector<uint8_t> labels = readFileBytes(labelsPath);
  std::vector<int64_t> labelDims = checkIdx(labelsPath, labels, 1, "labels");
  if (labelDims[0] != imageDims[0])
    throw DataError(labelsPath + ": label count " +
                    std::to_string(labelDims[0]) + " differs from the image " +
                    "count " + std::to_string(imageDims[0]) + " of " +
                    imagesPath);
  if (imageDims[1] == 0 || imageDims[2] == 0)
    throw DataError(imagesPath + ": image size " +
                    std::to_string(imageDims[1]) + "x" +
                    std::to_string(imageDims[2]) + " is empty");
  ImageSet set;
  set.source = imagesPath + ", " + labelsPath;
  set.count = imageDims[0];
  set.height = imageDims[1];
  set.width = imageDims[2];
  set.formatClasses = 10;
  images.erase(images.begin(), images.begin() + 16);
  set.bytes = std::move(images);
  set.labels.resize(static_cast<size_t>(set.count));
  for (int64_t i = 0; i < set.count; ++i) {
    set.labels[i] = labels[8 + static_cast<size_t>(i)];
    if (set.labels[i] >= set.formatClasses)
      labelOutOfRange(labelsPath, set.labels[i], "sample " + std::to_string(i),
                      set.formatClasses);
  }
  return set;
}

ImageSet readCifar(const std::vector<std::string> &paths, int64_t classes) {
  std::string name = classes == 100 ? "CIFAR-100" : "CIFAR-10";
  if (paths.empty() || (classes != 10 && classes != 100))
    throw DataError(joinPaths(paths) + ": cannot read as CIFAR with " +
                    std::to_string(classes) +
                    " classes; CIFAR needs one file or more and 10 or 100 "
                    "classes");
  const size_t labelBytes = classes == 100 ? 2 : 1, pixels = 3 * 32 * 32;
  const size_t recordSize = labelBytes + pixels;
  // A whole number of the other format's records suggests the wrong format.
  const size_t otherRecordSize = (classes == 100 ? 1 : 2) + pixels;
  ImageSet set;
  set.source = joinPaths(paths);
  set.channels = 3;
  set.height = set.width = 32;
  set.formatClasses = classes;
  for (const std::string &path : paths) {
    std::vector<uint8_t> bytes = readFileBytes(path);
    if (bytes.empty() || bytes.size() % recordSize != 0)
      throw DataError(
          path + ": size " + std::to_string(bytes.size()) +
          " bytes is not a positive multiple of the " + name + " record size " +
          std::to_string(recordSize) + " (" +
          (classes == 100 ? "2 label bytes" : "1 label byte") +
          " + 3x32x32 pixels)" +
          (bytes.size() % otherRecordSize == 0 && !bytes.empty()
               ? "; the size fits " +
                     std::string(classes == 100 ? "CIFAR-10" : "CIFAR-100") +
                     " records"
               : ""));
    size_t records = bytes.size() / recordSize;
    for (size_t r = 0; r < records; ++r) {
      const uint8_t *record = bytes.data() + r * recordSize;
      std::string item = "record " + std::to_string(r);
      if (classes == 100 && record[0] >= 20)
        labelOutOfRange(path, record[0], item, 20, "coarse label");
      int64_t label = record[labelBytes - 1];
      if (label >= classes)
        labelOutOfRange(path, label, item, classes);
      set.labels.push_back(label);
      set.bytes.insert(set.bytes.end(), record + labelBytes,
                       record + recordSize);
    }
  }
  set.count = static_cast<int64_t>(set.labels.size());
  return set;
}

ImageSet readNpyPair(const std::string &imagesPath,
                     const std::string &labelsPath) {
  support::NpyArray images = readNpyFile(imagesPath);
  support::NpyArray labels = readNpyFile(labelsPath);
  ImageSet set;
  set.source = imagesPath + ", " + labelsPath;
  takeNpyImages(imagesPath, images, set);
  if (labels.shape != std::vector<int64_t>{set.count})
    throw DataError(labelsPath + ": labels of shape " +
                    runtime::shapeToString(labels.shape) + ", expected [" +
                    std::to_string(set.count) + "] (the image count of " +
                    imagesPath + ")");
  if (labels.dtype != "i64" && labels.dtype != "i32" && labels.dtype != "u8")
    throw DataError(labelsPath + ": labels of dtype " + labels.dtype +
                    ", expected integers (int64, int32 or uint8)");
  set.labels.resize(labels.values.size());
  for (size_t i = 0; i < labels.values.size(); ++i) {
    set.labels[i] = static_cast<int64_t>(labels.values[i]);
    if (set.labels[i] < 0)
      throw DataError(labelsPath + ": label " + std::to_string(set.labels[i]) +
                      " of sample " + std::to_string(i) + " is negative");
  }
  return set;
}

DataSplits openDataDirectory(const std::string &spec) {
  std::string format, dir = spec;
  size_t colon = spec.find(':');
  if (colon != std::string::npos && findLayout(spec.substr(0, colon))) {
    format = spec.substr(0, colon);
    dir = spec.substr(colon + 1);
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw DataError(dir + ": no such directory (data sets are given as "
                          "[FORMAT:]DIR, FORMAT one of idx, cifar10, "
                          "cifar100, npy)");
  const Layout *layout =
      format.empty() ? detectLayout(dir) : findLayout(format);
  if (!layout)
    noDataSet(dir);
  std::vector<std::string> paths = layoutFiles(dir, *layout);
  DataSplits splits;
  splits.format = layout->format;
  if (splits.format == "idx") {
    splits.train = readIdx(paths[0], paths[1]);
    splits.test = readIdx(paths[2], paths[3]);
  } else if (splits.format == "cifar10") {
    splits.train = readCifar({paths.begin(), paths.begin() + 5}, 10);
    splits.test = readCifar({paths[5]}, 10);
  } else if (splits.format == "cifar100") {
    splits.train = readCifar({paths[0]}, 100);
    splits.test = readCifar({paths[1]}, 100);
  } else {
    splits.train = readNpyPair(paths[0], paths[1]);
    splits.test = readNpyPair(paths[2], paths[3]);
  }
  return splits;
}

//===----------------------------------------------------------------------===//
// Checks and statistics
//===----------------------------------------------------------------------===//

void checkFitsModel(const ImageSet &set, const ModelInput &model,
                    const std::string &split) {
  std::string where = set.source + " (" + split + " split): ";
  if (set.channels != model.channels)
    throw DataError(where + "images have " + std::to_string(set.channels) +
                    " channel(s), the model's input has " +
                    std::to_string(model.channels));
  if (set.height > model.height || set.width > model.width)
    throw DataError(
        where + "images of " + std::to_string(set.height) + "x" +
        std::to_string(set.width) + " are larger than the model's input " +
        std::to_string(model.height) + "x" + std::to_string(model.width) +
        " (smaller images are padded, larger ones are not cropped)");
  for (size_t i = 0; i < set.labels.size(); ++i)
    if (set.labels[i] < 0 || set.labels[i] >= model.classes)
      throw DataError(where + "label " + std::to_string(set.labels[i]) +
                      " of sample " + std::to_string(i) +
                      " is not one of the model's " +
                      std::to_string(model.classes) + " classes [0, " +
                      std::to_string(model.classes) + ")");
}

Normalization computeNormalization(const ImageSet &set) {
  return set.bytes.empty() ? floatStatistics(set) : byteStatistics(set);
}

//===----------------------------------------------------------------------===//
// Order and samples
//===----------------------------------------------------------------------===//

std::vector<int64_t> epochOrder(int64_t count, uint64_t seed, int64_t epoch,
                                bool shuffle) {
  std::vector<int64_t> order(static_cast<size_t>(std::max<int64_t>(count, 0)));
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = static_cast<int64_t>(i);
  if (!shuffle)
    return order;
  SplitMix64 generator(epochKey(seed, epoch));
  for (size_t i = order.size(); i > 1; --i)
    std::swap(order[i - 1], order[generator.below(i)]);
  return order;
}

void checkSampleOptions(const ImageSet &set, const LoaderOptions &options) {
  const ModelInput &input = options.input;
  if (set.channels != input.channels || set.height > input.height ||
      set.width > input.width)
    throw DataError(
        set.source + ": images of " + std::to_string(set.channels) + "x" +
        std::to_string(set.height) + "x" + std::to_string(set.width) +
        " (CxHxW) do not fit the input " + std::to_string(input.channels) +
        "x" + std::to_string(input.height) + "x" + std::to_string(input.width) +
        " (the same channels, no larger images)");
  const Normalization &norm = options.normalization;
  size_t channels = static_cast<size_t>(set.channels);
  if (!norm.empty() &&
      (norm.mean.size() != channels || norm.std.size() != channels))
    throw DataError(set.source + ": normalisation of " +
                    std::to_string(norm.mean.size()) + " mean(s) and " +
                    std::to_string(norm.std.size()) + " std(s) for images of " +
                    std::to_string(channels) + " channel(s)");
  for (double deviation : norm.std)
    if (!(deviation > 0))
      throw DataError(set.source + ": normalisation std " +
                      std::to_string(deviation) + " is not positive");
  if (options.augmentation.cropPadding < 0)
    throw DataError(set.source + ": crop padding " +
                    std::to_string(options.augmentation.cropPadding) +
                    " is negative");
}

void prepareSample(const ImageSet &set, int64_t index,
                   const LoaderOptions &options, int64_t epoch, float *out) {
  const ModelInput &input = options.input;
  if (index < 0 || index >= set.count)
    throw DataError(set.source + ": sample index " + std::to_string(index) +
                    " is out of range [0, " + std::to_string(set.count) + ")");
  checkSampleOptions(set, options);
  const int64_t padding = options.augmentation.cropPadding;
  SplitMix64 generator(
      combine(epochKey(options.seed, epoch), static_cast<uint64_t>(index)));
  int64_t cropRow = 0, cropColumn = 0; // In the padded image: [0, 2p].
  if (padding > 0) {
    cropRow = static_cast<int64_t>(generator.below(2 * padding + 1));
    cropColumn = static_cast<int64_t>(generator.below(2 * padding + 1));
  }
  bool flip = options.augmentation.horizontalFlip && generator.next() >> 63;
  // Output (y, x) shows the centred image's (y + cropRow - p, x' + cropColumn
  // - p), x' = x or its mirror; outside the image is the padding, 0.
  const int64_t top = (input.height - set.height) / 2 - cropRow + padding;
  const int64_t left = (input.width - set.width) / 2 - cropColumn + padding;
  const size_t plane = static_cast<size_t>(set.height * set.width);
  const size_t first = static_cast<size_t>(index * set.imageElements());
  const Normalization &norm = options.normalization;
  for (int64_t c = 0; c < input.channels; ++c) {
    double mean = norm.empty() ? 0.0 : norm.mean[c];
    double deviation = norm.empty() ? 1.0 : norm.std[c];
    size_t channelStart = first + static_cast<size_t>(c) * plane;
    for (int64_t y = 0; y < input.height; ++y) {
      int64_t row = y - top;
      for (int64_t x = 0; x < input.width; ++x) {
        int64_t column = (flip ? input.width - 1 - x : x) - left;
        float value = 0.0f;
        if (row >= 0 && row < set.height && column >= 0 && column < set.width) {
          size_t at = channelStart + static_cast<size_t>(row * set.width) +
                      static_cast<size_t>(column);
          value = set.bytes.empty()
                      ? set.floats[at]
                      : static_cast<float>(set.bytes[at]) / 255.0f;
        }
        *out++ = norm.empty() ? value
                              : static_cast<float>((value - mean) / deviation);
      }
    }
  }
}

} // namespace nsl::data
