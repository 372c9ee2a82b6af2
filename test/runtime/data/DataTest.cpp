//===- DataTest.cpp - Data sets, sample preparation, batch loading --------===//
//
// Small synthetic files (IDX plain and gzip, CIFAR-10/100 records, .npy
// pairs) in a fresh temporary directory: their values read exactly and one
// clear error per kind of bad file. Then the determinism the loader promises:
// orders and augmentations that depend only on (seed, epoch, index), checked
// against values computed independently from the scheme documented in
// Dataset.cpp, and batches that do not depend on the worker count or on
// where an epoch is resumed. The real Fashion-MNIST is read when installed.
//
//===----------------------------------------------------------------------===//

#include "runtime/data/Dataset.h"
#include "runtime/support/Npy.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

using namespace nsl;
using nsl::data::DataError;
using nsl::data::ImageSet;
using nsl::data::LoaderOptions;

namespace {

namespace fs = std::filesystem;

class DataTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "nsl-data-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "cannot create a temp dir";
    dir = pattern;
  }
  void TearDown() override { fs::remove_all(dir); }

  std::string path(const std::string &name) const {
    return (fs::path(dir) / name).string();
  }
  std::string writeBytes(const std::string &name, const std::string &bytes) {
    fs::create_directories(fs::path(path(name)).parent_path());
    std::ofstream out(path(name), std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path(name);
  }
  std::string writeGzip(const std::string &name, const std::string &bytes) {
    fs::create_directories(fs::path(path(name)).parent_path());
    gzFile file = gzopen(path(name).c_str(), "wb");
    EXPECT_NE(file, nullptr);
    EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    EXPECT_EQ(gzclose(file), Z_OK);
    return path(name);
  }
  std::string writeNpy(const std::string &name, const std::string &dtype,
                       std::vector<int64_t> shape, std::vector<double> values) {
    fs::create_directories(fs::path(path(name)).parent_path());
    support::NpyArray array;
    array.dtype = dtype;
    array.shape = std::move(shape);
    array.values = std::move(values);
    support::writeNpy(path(name), array);
    return path(name);
  }

  std::string dir;
};

std::string bigEndian(uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
          static_cast<char>(value >> 8), static_cast<char>(value)};
}

std::string idxImages(uint32_t count, uint32_t height, uint32_t width,
                      const std::vector<uint8_t> &pixels,
                      uint32_t magic = 0x803) {
  return bigEndian(magic) + bigEndian(count) + bigEndian(height) +
         bigEndian(width) + std::string(pixels.begin(), pixels.end());
}

std::string idxLabels(const std::vector<uint8_t> &labels,
                      uint32_t magic = 0x801) {
  return bigEndian(magic) + bigEndian(static_cast<uint32_t>(labels.size())) +
         std::string(labels.begin(), labels.end());
}

std::vector<uint8_t> patternPixels(size_t count, unsigned seed) {
  std::vector<uint8_t> pixels(count);
  for (size_t i = 0; i < count; ++i)
    pixels[i] = static_cast<uint8_t>((i * 37 + seed * 11) % 256);
  return pixels;
}

/// CIFAR records: the label byte(s), then 3×32×32 pixels.
std::string cifarRecord(std::vector<uint8_t> labels, unsigned seed) {
  std::vector<uint8_t> pixels = patternPixels(3 * 32 * 32, seed);
  return std::string(labels.begin(), labels.end()) +
         std::string(pixels.begin(), pixels.end());
}

/// Expects `fn` to throw a DataError whose message starts with `start` and
/// contains every piece.
::testing::AssertionResult throwsData(const std::function<void()> &fn,
                                      const std::string &start,
                                      std::vector<std::string> pieces) {
  try {
    fn();
  } catch (const DataError &e) {
    std::string message = e.what();
    if (message.compare(0, start.size(), start) != 0)
      return ::testing::AssertionFailure()
             << "message \"" << message << "\" does not start with \"" << start
             << "\"";
    for (const std::string &piece : pieces)
      if (message.find(piece) == std::string::npos)
        return ::testing::AssertionFailure()
               << "message \"" << message << "\" lacks \"" << piece << "\"";
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "no DataError thrown";
}

/// A float set of `count` C×H×W images whose pixels are distinct: pixel k of
/// image n is n * 1000 + k, and labels n % classes.
ImageSet floatSet(int64_t count, int64_t channels, int64_t height,
                  int64_t width, int64_t classes = 10) {
  ImageSet set;
  set.source = "synthetic";
  set.count = count;
  set.channels = channels;
  set.height = height;
  set.width = width;
  for (int64_t n = 0; n < count; ++n) {
    for (int64_t k = 0; k < set.imageElements(); ++k)
      set.floats.push_back(static_cast<float>(n * 1000 + k));
    set.labels.push_back(n % classes);
  }
  return set;
}

LoaderOptions optionsFor(const ImageSet &set, int64_t height, int64_t width) {
  LoaderOptions options;
  options.input = {set.channels, height, width, 10};
  return options;
}

std::vector<float> prepare(const ImageSet &set, int64_t index,
                           const LoaderOptions &options, int64_t epoch) {
  const data::ModelInput &input = options.input;
  std::vector<float> out(
      static_cast<size_t>(input.channels * input.height * input.width), -1.0f);
  data::prepareSample(set, index, options, epoch, out.data());
  return out;
}

/// Pad → crop at (row, column) of the padded image → flip, written directly
/// from torchvision's definitions, for one channel of an H×W image equal to
/// the input size.
std::vector<float> cropAndFlip(const std::vector<float> &image, int64_t height,
                               int64_t width, int64_t padding, int64_t row,
                               int64_t column, bool flip) {
  int64_t paddedWidth = width + 2 * padding;
  std::vector<float> padded(
      static_cast<size_t>((height + 2 * padding) * paddedWidth), 0.0f);
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x)
      padded[(y + padding) * paddedWidth + x + padding] = image[y * width + x];
  std::vector<float> out;
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      int64_t source = flip ? width - 1 - x : x;
      out.push_back(padded[(y + row) * paddedWidth + source + column]);
    }
  return out;
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

TEST_F(DataTest, ReadsPlainAndGzipIdx) {
  std::vector<uint8_t> pixels = patternPixels(3 * 4 * 5, 1);
  std::vector<uint8_t> labels = {0, 9, 4};
  for (bool gzip : {false, true}) {
    auto write = [&](const std::string &name, const std::string &bytes) {
      return gzip ? writeGzip(name + ".gz", bytes) : writeBytes(name, bytes);
    };
    std::string images = write("images", idxImages(3, 4, 5, pixels));
    std::string labelsPath = write("labels", idxLabels(labels));
    ImageSet set = data::readIdx(images, labelsPath);
    EXPECT_EQ(set.count, 3);
    EXPECT_EQ(set.channels, 1);
    EXPECT_EQ(set.height, 4);
    EXPECT_EQ(set.width, 5);
    EXPECT_EQ(set.bytes, pixels);
    EXPECT_TRUE(set.floats.empty());
    EXPECT_EQ(set.labels, (std::vector<int64_t>{0, 9, 4}));
    EXPECT_EQ(set.formatClasses, 10);
    EXPECT_NE(set.source.find(images), std::string::npos);
    std::vector<float> image(20);
    set.copyImage(2, image.data());
    for (size_t i = 0; i < image.size(); ++i)
      EXPECT_EQ(image[i], static_cast<float>(pixels[40 + i]) / 255.0f);
  }
}

TEST_F(DataTest, ReportsBadIdxFiles) {
  std::vector<uint8_t> pixels = patternPixels(3 * 2 * 2, 2);
  std::string images = writeBytes("images", idxImages(3, 2, 2, pixels));
  std::string labels = writeBytes("labels", idxLabels({1, 2, 3}));
  auto read = [](const std::string &imagesPath, const std::string &labelsPath) {
    return [=] { data::readIdx(imagesPath, labelsPath); };
  };
  std::string magic = writeBytes("magic", idxImages(3, 2, 2, pixels, 0x801));
  EXPECT_TRUE(throwsData(read(magic, labels), magic,
                         {"magic number 0x00000801, expected 0x00000803",
                          "IDX images of unsigned bytes"}));
  std::string labelMagic = writeBytes("lmagic", idxLabels({1, 2, 3}, 0x803));
  EXPECT_TRUE(throwsData(read(images, labelMagic), labelMagic,
                         {"magic number 0x00000803, expected 0x00000801"}));
  std::string bytes = idxImages(3, 2, 2, pixels);
  std::string cut = writeBytes("cut", bytes.substr(0, bytes.size() - 1));
  EXPECT_TRUE(throwsData(read(cut, labels), cut,
                         {"size 27 bytes, expected 28", "truncated"}));
  std::string header = writeBytes("header", bytes.substr(0, 10));
  EXPECT_TRUE(throwsData(read(header, labels), header,
                         {"IDX header of 16 bytes", "truncated"}));
  std::string trailing = writeBytes("trailing", bytes + "x");
  EXPECT_TRUE(throwsData(read(trailing, labels), trailing,
                         {"size 29 bytes, expected 28", "trailing bytes"}));
  std::string two = writeBytes("two", idxLabels({1, 2}));
  EXPECT_TRUE(throwsData(read(images, two), two,
                         {"label count 2", "image count 3", images}));
  std::string range = writeBytes("range", idxLabels({1, 10, 3}));
  EXPECT_TRUE(throwsData(read(images, range), range,
                         {"label 10 of sample 1", "[0, 10)"}));
  EXPECT_TRUE(throwsData(read(path("absent.gz"), labels), path("absent.gz"),
                         {"file not found"}));
  std::string gzip = writeGzip("whole.gz", bytes);
  std::ifstream in(gzip, std::ios::binary);
  std::string compressed((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  std::string broken =
      writeBytes("broken.gz", compressed.substr(0, compressed.size() - 12));
  EXPECT_TRUE(throwsData(read(broken, labels), broken,
                         {"gzip", "truncated or corrupt"}));
}

TEST_F(DataTest, ReadsCifar10And100) {
  std::string first = writeBytes(
      "a.bin", cifarRecord({3}, 1) + cifarRecord({9}, 2) + cifarRecord({0}, 3));
  std::string second = writeBytes("b.bin", cifarRecord({7}, 4));
  ImageSet set = data::readCifar({first, second}, 10);
  EXPECT_EQ(set.count, 4);
  EXPECT_EQ(set.channels, 3);
  EXPECT_EQ(set.height, 32);
  EXPECT_EQ(set.width, 32);
  EXPECT_EQ(set.formatClasses, 10);
  EXPECT_EQ(set.labels, (std::vector<int64_t>{3, 9, 0, 7}));
  ASSERT_EQ(set.bytes.size(), 4u * 3072u);
  for (unsigned n = 0; n < 4; ++n)
    EXPECT_TRUE(std::equal(set.bytes.begin() + n * 3072,
                           set.bytes.begin() + (n + 1) * 3072,
                           patternPixels(3072, n + 1).begin()))
        << "image " << n;

  std::string hundred =
      writeBytes("c.bin", cifarRecord({19, 99}, 5) + cifarRecord({0, 42}, 6));
  ImageSet fine = data::readCifar({hundred}, 100);
  EXPECT_EQ(fine.count, 2);
  EXPECT_EQ(fine.formatClasses, 100);
  EXPECT_EQ(fine.labels, (std::vector<int64_t>{99, 42}));
  EXPECT_TRUE(std::equal(fine.bytes.begin() + 3072, fine.bytes.end(),
                         patternPixels(3072, 6).begin()));
}

TEST_F(DataTest, ReportsBadCifarFiles) {
  std::string good = cifarRecord({1}, 1);
  std::string cut = writeBytes("cut.bin", good + good.substr(0, 100));
  EXPECT_TRUE(throwsData([&] { data::readCifar({cut}, 10); }, cut,
                         {"size 3173 bytes", "CIFAR-10 record size 3073"}));
  std::string empty = writeBytes("empty.bin", "");
  EXPECT_TRUE(throwsData([&] { data::readCifar({empty}, 10); }, empty,
                         {"size 0 bytes"}));
  std::string wrong =
      writeBytes("100.bin", cifarRecord({1, 2}, 1) + cifarRecord({1, 2}, 2) +
                                cifarRecord({1, 2}, 3));
  EXPECT_TRUE(throwsData([&] { data::readCifar({wrong}, 10); }, wrong,
                         {"record size 3073", "fits CIFAR-100 records"}));
  std::string range = writeBytes("range.bin", good + cifarRecord({10}, 2));
  EXPECT_TRUE(throwsData([&] { data::readCifar({range}, 10); }, range,
                         {"label 10 of record 1", "[0, 10)"}));
  std::string coarse = writeBytes("coarse.bin", cifarRecord({20, 5}, 1));
  EXPECT_TRUE(throwsData([&] { data::readCifar({coarse}, 100); }, coarse,
                         {"coarse label 20 of record 0", "[0, 20)"}));
  std::string fine = writeBytes("fine.bin", cifarRecord({2, 100}, 1));
  EXPECT_TRUE(throwsData([&] { data::readCifar({fine}, 100); }, fine,
                         {"label 100 of record 0", "[0, 100)"}));
  EXPECT_TRUE(throwsData([&] { data::readCifar({path("no.bin")}, 10); },
                         path("no.bin"), {"file not found"}));
}

TEST_F(DataTest, ReadsNpyPairs) {
  std::vector<double> bytes = {0, 1, 2, 253, 254, 255, 7, 8};
  std::string images = writeNpy("u8.npy", "u8", {2, 2, 2}, bytes);
  std::string labels = writeNpy("l.npy", "i32", {2}, {5, 0});
  ImageSet set = data::readNpyPair(images, labels);
  EXPECT_EQ(set.count, 2);
  EXPECT_EQ(set.channels, 1);
  EXPECT_EQ(set.height, 2);
  EXPECT_EQ(set.width, 2);
  EXPECT_EQ(set.bytes, std::vector<uint8_t>(bytes.begin(), bytes.end()));
  EXPECT_EQ(set.labels, (std::vector<int64_t>{5, 0}));
  EXPECT_EQ(set.formatClasses, 0);

  std::vector<double> floats = {0.5, -1.25, 3, 1e-3, 2, 4, 8, 16, 0, 0, 0, 1};
  std::string chw = writeNpy("f.npy", "f64", {2, 3, 1, 2}, floats);
  std::string longLabels = writeNpy("l64.npy", "i64", {2}, {1, 3});
  ImageSet floatSet = data::readNpyPair(chw, longLabels);
  EXPECT_EQ(floatSet.channels, 3);
  EXPECT_EQ(floatSet.height, 1);
  EXPECT_EQ(floatSet.width, 2);
  EXPECT_EQ(floatSet.floats, std::vector<float>(floats.begin(), floats.end()));
  EXPECT_TRUE(floatSet.bytes.empty());
  std::vector<float> image(6);
  floatSet.copyImage(0, image.data());
  EXPECT_EQ(image, std::vector<float>(floats.begin(), floats.begin() + 6));
}

TEST_F(DataTest, ReportsBadNpyPairs) {
  std::string images =
      writeNpy("i.npy", "u8", {2, 2, 2}, std::vector<double>(8));
  std::string labels = writeNpy("l.npy", "i64", {2}, {0, 1});
  auto read = [](const std::string &imagesPath, const std::string &labelsPath) {
    return [=] { data::readNpyPair(imagesPath, labelsPath); };
  };
  std::string flat = writeNpy("flat.npy", "u8", {2, 4}, std::vector<double>(8));
  EXPECT_TRUE(
      throwsData(read(flat, labels), flat,
                 {"images of shape [2, 4]", "[N, C, H, W] or [N, H, W]"}));
  std::string ints =
      writeNpy("ints.npy", "i64", {2, 2, 2}, std::vector<double>(8));
  EXPECT_TRUE(throwsData(read(ints, labels), ints,
                         {"images of dtype i64", "uint8, float32 or float64"}));
  std::string three = writeNpy("three.npy", "i64", {3}, {0, 1, 2});
  EXPECT_TRUE(throwsData(read(images, three), three,
                         {"labels of shape [3]", "expected [2]", images}));
  std::string matrix = writeNpy("matrix.npy", "i64", {2, 1}, {0, 1});
  EXPECT_TRUE(
      throwsData(read(images, matrix), matrix, {"labels of shape [2, 1]"}));
  std::string floats = writeNpy("fl.npy", "f32", {2}, {0, 1});
  EXPECT_TRUE(throwsData(read(images, floats), floats,
                         {"labels of dtype f32", "integers"}));
  std::string negative = writeNpy("neg.npy", "i32", {2}, {0, -1});
  EXPECT_TRUE(throwsData(read(images, negative), negative,
                         {"label -1 of sample 1", "negative"}));
  std::string nan = writeNpy("nan.npy", "f32", {1, 1, 2}, {0, std::nan("")});
  std::string one = writeNpy("one.npy", "i64", {1}, {0});
  EXPECT_TRUE(throwsData(read(nan, one), nan, {"pixel 1", "finite"}));
  std::string junk = writeBytes("junk.npy", "not a numpy file");
  EXPECT_TRUE(throwsData(read(junk, labels), junk + ": not a .npy file", {}));
  EXPECT_TRUE(throwsData(read(images, path("none.npy")), path("none.npy"),
                         {"cannot open"}));
}

TEST_F(DataTest, OpensDataDirectories) {
  std::vector<uint8_t> pixels = patternPixels(2 * 3 * 3, 3);
  auto writeIdx = [&](const std::string &folder) {
    writeGzip(folder + "/train-images-idx3-ubyte.gz",
              idxImages(2, 3, 3, pixels));
    writeBytes(folder + "/train-labels-idx1-ubyte", idxLabels({1, 2}));
    writeGzip(folder + "/t10k-images-idx3-ubyte.gz",
              idxImages(1, 3, 3, std::vector<uint8_t>(9, 5)));
    writeGzip(folder + "/t10k-labels-idx1-ubyte.gz", idxLabels({7}));
  };
  writeIdx("idx");
  data::DataSplits idx = data::openDataDirectory(path("idx"));
  EXPECT_EQ(idx.format, "idx");
  EXPECT_EQ(idx.train.count, 2);
  EXPECT_EQ(idx.train.bytes, pixels);
  EXPECT_EQ(idx.test.labels, std::vector<int64_t>{7});
  EXPECT_EQ(data::openDataDirectory("idx:" + path("idx")).format, "idx");

  for (int i = 1; i <= 5; ++i)
    writeBytes("c10/data_batch_" + std::to_string(i) + ".bin",
               cifarRecord({static_cast<uint8_t>(i)}, i));
  writeBytes("c10/test_batch.bin", cifarRecord({0}, 0) + cifarRecord({9}, 9));
  data::DataSplits cifar10 = data::openDataDirectory(path("c10"));
  EXPECT_EQ(cifar10.format, "cifar10");
  EXPECT_EQ(cifar10.train.labels, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(cifar10.test.count, 2);

  writeBytes("c100/train.bin", cifarRecord({1, 50}, 1));
  writeBytes("c100/test.bin", cifarRecord({2, 60}, 2));
  data::DataSplits cifar100 = data::openDataDirectory(path("c100") + "/");
  EXPECT_EQ(cifar100.format, "cifar100");
  EXPECT_EQ(cifar100.train.labels, std::vector<int64_t>{50});
  EXPECT_EQ(cifar100.test.labels, std::vector<int64_t>{60});

  writeNpy("n/train_images.npy", "f32", {1, 1, 2}, {0.5, 1.5});
  writeNpy("n/train_labels.npy", "i64", {1}, {3});
  writeNpy("n/test_images.npy", "f32", {2, 1, 2}, {0, 1, 2, 3});
  writeNpy("n/test_labels.npy", "i64", {2}, {4, 5});
  data::DataSplits npy = data::openDataDirectory("npy:" + path("n"));
  EXPECT_EQ(npy.format, "npy");
  EXPECT_EQ(npy.train.floats, (std::vector<float>{0.5f, 1.5f}));
  EXPECT_EQ(npy.test.labels, (std::vector<int64_t>{4, 5}));

  writeBytes("other/readme.txt", "nothing here");
  EXPECT_TRUE(
      throwsData([&] { data::openDataDirectory(path("other")); }, path("other"),
                 {"no data set found", "idx: {train,t10k}",
                  "cifar10: data_batch_{1..5}.bin",
                  "cifar100:", "npy: {train,test}_{images,labels}.npy"}));
  writeIdx("archive/inner");
  EXPECT_TRUE(throwsData([&] { data::openDataDirectory(path("archive")); },
                         path("archive"), {path("archive/inner") + " holds"}));
  writeBytes("half/train-images-idx3-ubyte", idxImages(2, 3, 3, pixels));
  writeBytes("half/train-labels-idx1-ubyte", idxLabels({1, 2}));
  EXPECT_TRUE(throwsData([&] { data::openDataDirectory(path("half")); },
                         path("half/t10k-images-idx3-ubyte[.gz]"),
                         {"file not found", "idx layout"}));
  EXPECT_TRUE(
      throwsData([&] { data::openDataDirectory("cifar10:" + path("n")); },
                 path("n/data_batch_1.bin"), {"file not found"}));
  EXPECT_TRUE(throwsData([&] { data::openDataDirectory(path("nowhere")); },
                         path("nowhere"), {"no such directory"}));
}

//===----------------------------------------------------------------------===//
// Checks and statistics
//===----------------------------------------------------------------------===//

TEST_F(DataTest, ChecksTheFitToTheModel) {
  ImageSet set = floatSet(6, 1, 28, 28, 5);
  EXPECT_NO_THROW(data::checkFitsModel(set, {1, 28, 28, 5}, "train"));
  EXPECT_NO_THROW(data::checkFitsModel(set, {1, 32, 30, 5}, "train"));
  EXPECT_TRUE(throwsData(
      [&] { data::checkFitsModel(set, {3, 32, 32, 5}, "train"); },
      "synthetic (train split)", {"1 channel(s)", "model's input has 3"}));
  EXPECT_TRUE(
      throwsData([&] { data::checkFitsModel(set, {1, 27, 32, 5}, "test"); },
                 "synthetic (test split)",
                 {"28x28", "larger than the model's input 27x32"}));
  set.labels[4] = 7;
  EXPECT_TRUE(throwsData(
      [&] { data::checkFitsModel(set, {1, 28, 28, 5}, "train"); },
      "synthetic (train split)", {"label 7 of sample 4", "model's 5 classes"}));
}

TEST_F(DataTest, ComputesNormalizationPerChannel) {
  ImageSet bytes;
  bytes.count = 5;
  bytes.channels = 3;
  bytes.height = 4;
  bytes.width = 3;
  bytes.bytes = patternPixels(5 * 3 * 4 * 3, 7);
  for (size_t n = 0; n < 5; ++n) // Channel 2 constant: std 1.
    std::fill_n(bytes.bytes.begin() + (n * 3 + 2) * 12, 12, uint8_t(200));
  ImageSet floats = floatSet(4, 2, 3, 5);
  floats.floats[7] = -3.5f;
  for (const ImageSet *set : {&bytes, &floats}) {
    data::Normalization norm = data::computeNormalization(*set);
    ASSERT_EQ(norm.mean.size(), static_cast<size_t>(set->channels));
    ASSERT_EQ(norm.std.size(), static_cast<size_t>(set->channels));
    for (int64_t c = 0; c < set->channels; ++c) {
      // The statistics of the exact pixel values (byte / 255 in double).
      std::vector<double> values;
      int64_t plane = set->height * set->width;
      for (int64_t n = 0; n < set->count; ++n)
        for (int64_t i = 0; i < plane; ++i) {
          size_t at = static_cast<size_t>((n * set->channels + c) * plane + i);
          values.push_back(set->bytes.empty() ? set->floats[at]
                                              : set->bytes[at] / 255.0);
        }
      double mean = 0, variance = 0;
      for (double v : values)
        mean += v / static_cast<double>(values.size());
      for (double v : values)
        variance +=
            (v - mean) * (v - mean) / static_cast<double>(values.size());
      bool constant = std::all_of(values.begin(), values.end(),
                                  [&](double v) { return v == values[0]; });
      double expectedStd = constant ? 1.0 : std::sqrt(variance);
      EXPECT_NEAR(norm.mean[c], mean, 1e-9 * std::max(1.0, std::fabs(mean)))
          << "channel " << c;
      EXPECT_NEAR(norm.std[c], expectedStd, 1e-9 * expectedStd)
          << "channel " << c;
    }
  }
  EXPECT_EQ(data::computeNormalization(bytes).std[2], 1.0);
  EXPECT_NEAR(data::computeNormalization(bytes).mean[2], 200.0 / 255.0, 1e-12);
  // Constant channels whose mean does not round exactly still get std 1.
  ImageSet constant = floatSet(7, 1, 1, 3);
  std::fill(constant.floats.begin(), constant.floats.end(), 0.1f);
  EXPECT_EQ(data::computeNormalization(constant).std[0], 1.0);
  constant.floats.clear();
  for (uint8_t value : {uint8_t(1), uint8_t(77)}) {
    constant.bytes.assign(21, value);
    EXPECT_EQ(data::computeNormalization(constant).std[0], 1.0);
  }
}

//===----------------------------------------------------------------------===//
// Order and samples
//===----------------------------------------------------------------------===//

TEST_F(DataTest, EpochOrderIsASeededPermutation) {
  std::vector<int64_t> identity(100);
  for (int64_t i = 0; i < 100; ++i)
    identity[i] = i;
  EXPECT_EQ(data::epochOrder(100, 42, 3, false), identity);
  std::vector<int64_t> order = data::epochOrder(100, 42, 3, true);
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, identity);
  EXPECT_NE(order, identity);
  EXPECT_EQ(data::epochOrder(100, 42, 3, true), order);
  EXPECT_NE(data::epochOrder(100, 42, 4, true), order);
  EXPECT_NE(data::epochOrder(100, 43, 3, true), order);
  // Computed from the scheme in Dataset.cpp's comment by a separate
  // implementation: a change here changes every resumed run's data.
  EXPECT_EQ(data::epochOrder(10, 42, 3, true),
            (std::vector<int64_t>{6, 2, 7, 5, 4, 9, 0, 1, 8, 3}));
  EXPECT_EQ(data::epochOrder(10, 42, 4, true),
            (std::vector<int64_t>{4, 9, 6, 5, 3, 8, 7, 2, 0, 1}));
  EXPECT_TRUE(data::epochOrder(0, 1, 1, true).empty());
  EXPECT_EQ(data::epochOrder(1, 1, 1, true), std::vector<int64_t>{0});
}

TEST_F(DataTest, PadsCentredAndNormalizes) {
  ImageSet set = floatSet(2, 1, 28, 28);
  LoaderOptions options = optionsFor(set, 32, 32);
  std::vector<float> out = prepare(set, 1, options, 0);
  for (int64_t y = 0; y < 32; ++y)
    for (int64_t x = 0; x < 32; ++x) {
      bool inside = y >= 2 && y < 30 && x >= 2 && x < 30;
      float expected = inside ? 1000.0f + (y - 2) * 28 + (x - 2) : 0.0f;
      ASSERT_EQ(out[y * 32 + x], expected) << "at " << y << ", " << x;
    }
  // An odd difference puts the extra row and column at the bottom/right.
  ImageSet odd = floatSet(1, 1, 2, 3);
  std::vector<float> oddOut = prepare(odd, 0, optionsFor(odd, 5, 4), 0);
  EXPECT_EQ(oddOut, (std::vector<float>{0, 0, 0, 0, //
                                        0, 1, 2, 0, //
                                        3, 4, 5, 0, //
                                        0, 0, 0, 0, //
                                        0, 0, 0, 0}));
  // Normalisation applies to the padding too.
  ImageSet two = floatSet(1, 2, 1, 1);
  LoaderOptions normed = optionsFor(two, 1, 3);
  normed.normalization.mean = {0.5, 2.0};
  normed.normalization.std = {0.25, 4.0};
  EXPECT_EQ(prepare(two, 0, normed, 0),
            (std::vector<float>{-2.0f, (0.0f - 0.5f) / 0.25f, -2.0f, //
                                -0.5f, (1.0f - 2.0f) / 4.0f, -0.5f}));
  ImageSet bytes;
  bytes.source = "bytes";
  bytes.count = 1;
  bytes.height = bytes.width = 1;
  bytes.bytes = {51};
  bytes.labels = {0};
  LoaderOptions byteOptions = optionsFor(bytes, 1, 1);
  byteOptions.normalization.mean = {0.1};
  byteOptions.normalization.std = {0.3};
  EXPECT_FLOAT_EQ(prepare(bytes, 0, byteOptions, 0)[0], (0.2f - 0.1f) / 0.3f);
  EXPECT_TRUE(throwsData([&] { prepare(set, 2, options, 0); }, "synthetic",
                         {"sample index 2", "[0, 2)"}));
  EXPECT_TRUE(throwsData([&] { prepare(set, 0, optionsFor(set, 27, 28), 0); },
                         "synthetic", {"do not fit the input 1x27x28"}));
  normed.normalization.std = {0.25};
  EXPECT_TRUE(throwsData([&] { prepare(two, 0, normed, 0); }, "synthetic",
                         {"normalisation of 2 mean(s) and 1 std(s)"}));
}

TEST_F(DataTest, AugmentsDeterministicallyPerSample) {
  ImageSet set = floatSet(40, 1, 6, 6);
  LoaderOptions options = optionsFor(set, 6, 6);
  options.seed = 7;
  options.augmentation.cropPadding = 4;
  options.augmentation.horizontalFlip = true;
  // (row, column, flip) from the documented scheme, computed separately.
  struct Draw {
    int64_t index, row, column;
    bool flip;
  };
  for (Draw draw : {Draw{0, 8, 6, false}, Draw{1, 2, 3, true},
                    Draw{2, 5, 8, true}, Draw{3, 8, 0, false}}) {
    std::vector<float> image(36);
    set.copyImage(draw.index, image.data());
    EXPECT_EQ(prepare(set, draw.index, options, 1),
              cropAndFlip(image, 6, 6, 4, draw.row, draw.column, draw.flip))
        << "sample " << draw.index;
  }
  // Every output is one of the (2p+1)² crops, flipped or not; the same
  // (seed, epoch, index) gives the same one, other indices and epochs vary.
  std::set<std::vector<float>> patterns;
  int flips = 0;
  for (int64_t index = 0; index < 40; ++index) {
    std::vector<float> out = prepare(set, index, options, 2);
    EXPECT_EQ(prepare(set, index, options, 2), out);
    std::vector<float> image(36);
    set.copyImage(index, image.data());
    bool matched = false;
    for (int64_t row = 0; row <= 8 && !matched; ++row)
      for (int64_t column = 0; column <= 8 && !matched; ++column)
        for (bool flip : {false, true})
          if (!matched &&
              cropAndFlip(image, 6, 6, 4, row, column, flip) == out) {
            matched = true;
            flips += flip;
          }
    EXPECT_TRUE(matched) << "sample " << index;
    // Compare shapes of the crops across samples: offsets, not values.
    for (float &v : out)
      v = v == 0.0f ? 0.0f : 1.0f;
    patterns.insert(out);
  }
  EXPECT_GT(patterns.size(), 10u);
  EXPECT_GT(flips, 5);
  EXPECT_LT(flips, 35);
  bool epochsDiffer = false;
  for (int64_t index = 0; index < 10; ++index)
    epochsDiffer |=
        prepare(set, index, options, 2) != prepare(set, index, options, 3);
  EXPECT_TRUE(epochsDiffer);
}

TEST_F(DataTest, FlipMirrorsRows) {
  ImageSet set = floatSet(30, 2, 2, 3);
  LoaderOptions options = optionsFor(set, 2, 3);
  options.augmentation.horizontalFlip = true;
  int flipped = 0;
  for (int64_t index = 0; index < 30; ++index) {
    std::vector<float> image(12), out = prepare(set, index, options, 0);
    set.copyImage(index, image.data());
    std::vector<float> mirrored = image;
    for (size_t row = 0; row < 4; ++row)
      std::reverse(mirrored.begin() + row * 3, mirrored.begin() + row * 3 + 3);
    EXPECT_TRUE(out == image || out == mirrored) << "sample " << index;
    flipped += out == mirrored;
  }
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, 30);
}

//===----------------------------------------------------------------------===//
// Batches
//===----------------------------------------------------------------------===//

std::vector<data::Batch> wholeEpoch(data::BatchLoader &loader, int64_t epoch,
                                    int64_t first = 0) {
  loader.startEpoch(epoch, first);
  std::vector<data::Batch> batches;
  while (std::optional<data::Batch> batch = loader.next())
    batches.push_back(*batch);
  EXPECT_FALSE(loader.next().has_value());
  return batches;
}

bool sameBatch(const data::Batch &a, const data::Batch &b) {
  return a.index == b.index && a.valid == b.valid &&
         a.images.shape() == b.images.shape() &&
         std::equal(a.images.data<float>(),
                    a.images.data<float>() + a.images.numel(),
                    b.images.data<float>()) &&
         std::equal(a.labels.data<int64_t>(),
                    a.labels.data<int64_t>() + a.labels.numel(),
                    b.labels.data<int64_t>());
}

TEST_F(DataTest, BatchesDoNotDependOnWorkersOrResumption) {
  ImageSet set = floatSet(23, 1, 5, 5);
  LoaderOptions options = optionsFor(set, 7, 7);
  options.batchSize = 4;
  options.shuffle = true;
  options.seed = 11;
  options.augmentation = {2, true};
  options.normalization = data::computeNormalization(set);
  options.workers = 1;
  data::BatchLoader single(set, options);
  EXPECT_EQ(single.batchesPerEpoch(), 5);
  options.workers = 3;
  options.prefetch = 4;
  data::BatchLoader parallel(set, options);
  for (int64_t epoch : {0, 1}) {
    std::vector<data::Batch> a = wholeEpoch(single, epoch);
    std::vector<data::Batch> b = wholeEpoch(parallel, epoch);
    ASSERT_EQ(a.size(), 5u);
    ASSERT_EQ(b.size(), 5u);
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k].index, static_cast<int64_t>(k));
      EXPECT_EQ(a[k].valid, 4);
      EXPECT_EQ(a[k].images.shape(), (runtime::Shape{4, 1, 7, 7}));
      EXPECT_TRUE(sameBatch(a[k], b[k])) << "epoch " << epoch << " batch " << k;
    }
    std::vector<data::Batch> resumed = wholeEpoch(parallel, epoch, 3);
    ASSERT_EQ(resumed.size(), 2u);
    EXPECT_TRUE(sameBatch(resumed[0], a[3]));
    EXPECT_TRUE(sameBatch(resumed[1], a[4]));
  }
  // Abandoning an epoch halfway, with batches in flight.
  parallel.startEpoch(0);
  ASSERT_TRUE(parallel.next().has_value());
  std::vector<data::Batch> reference = wholeEpoch(single, 1);
  std::vector<data::Batch> after = wholeEpoch(parallel, 1, 2);
  ASSERT_EQ(after.size(), 3u);
  EXPECT_TRUE(sameBatch(after[0], reference[2]));
  EXPECT_EQ(wholeEpoch(parallel, 1, 5).size(), 0u);
  // A loader with work in flight is destroyed cleanly.
  data::BatchLoader dropped(set, options);
  dropped.startEpoch(0);
}

TEST_F(DataTest, EveryBatchHoldsEachSampleOnce) {
  ImageSet set = floatSet(10, 1, 1, 1, 1000);
  for (bool shuffle : {false, true}) {
    LoaderOptions options = optionsFor(set, 1, 2);
    options.input.classes = 1000;
    options.batchSize = 4;
    options.shuffle = shuffle;
    options.dropLast = false;
    options.workers = 2;
    data::BatchLoader loader(set, options);
    EXPECT_EQ(loader.batchesPerEpoch(), 3);
    std::vector<data::Batch> batches = wholeEpoch(loader, 5);
    ASSERT_EQ(batches.size(), 3u);
    std::vector<int64_t> seen;
    for (const data::Batch &batch : batches) {
      EXPECT_EQ(batch.valid, batch.index == 2 ? 2 : 4);
      for (int64_t i = 0; i < 4; ++i) {
        const float *pixels = batch.images.data<float>() + 2 * i;
        int64_t label = batch.labels.data<int64_t>()[i];
        if (i >= batch.valid) {
          EXPECT_EQ(pixels[0], 0.0f);
          EXPECT_EQ(pixels[1], 0.0f);
          EXPECT_EQ(label, 0);
          continue;
        }
        // floatSet: image n holds n * 1000 and has label n.
        EXPECT_EQ(pixels[0], static_cast<float>(label * 1000));
        EXPECT_EQ(pixels[1], 0.0f); // The padding column.
        seen.push_back(label);
      }
    }
    std::vector<int64_t> order = data::epochOrder(10, 0, 5, shuffle);
    EXPECT_EQ(seen, order);
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, data::epochOrder(10, 0, 0, false));
  }
  LoaderOptions options = optionsFor(set, 1, 1);
  options.input.classes = 1000;
  options.batchSize = 4;
  data::BatchLoader dropping(set, options);
  EXPECT_EQ(dropping.batchesPerEpoch(), 2);
  EXPECT_EQ(wholeEpoch(dropping, 0).size(), 2u);
}

TEST_F(DataTest, LoaderReportsBadOptionsAndWorkerErrors) {
  ImageSet set = floatSet(3, 1, 2, 2);
  LoaderOptions options = optionsFor(set, 2, 2);
  options.batchSize = 0;
  EXPECT_TRUE(throwsData([&] { data::BatchLoader loader(set, options); },
                         "synthetic", {"batch size 0"}));
  options.batchSize = 4;
  EXPECT_TRUE(
      throwsData([&] { data::BatchLoader loader(set, options); }, "synthetic",
                 {"3 sample(s) make no batch of 4", "smaller batch size"}));
  options.batchSize = 1;
  options.workers = 0;
  EXPECT_TRUE(throwsData([&] { data::BatchLoader loader(set, options); },
                         "synthetic", {"0 worker(s)"}));
  options.workers = 1;
  options.normalization.mean = {0, 0};
  options.normalization.std = {1, 1};
  EXPECT_TRUE(throwsData([&] { data::BatchLoader loader(set, options); },
                         "synthetic", {"normalisation of 2 mean(s)"}));
  options.normalization = {};
  {
    data::BatchLoader loader(set, options);
    EXPECT_TRUE(
        throwsData([&] { loader.next(); }, "synthetic", {"before startEpoch"}));
    EXPECT_TRUE(throwsData([&] { loader.startEpoch(0, 4); }, "synthetic",
                           {"first batch 4", "[0, 3]"}));
  }
  // A batch too large to allocate fails in its worker; next() rethrows.
  options.dropLast = false;
  options.batchSize = int64_t(1) << 61;
  data::BatchLoader huge(set, options);
  huge.startEpoch(0);
  EXPECT_THROW(huge.next(), runtime::Error);
  EXPECT_FALSE(huge.next().has_value());
}

//===----------------------------------------------------------------------===//
// The real data
//===----------------------------------------------------------------------===//

TEST(FashionMnistTest, ReadsTheInstalledFiles) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  std::error_code ec;
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz", ec) &&
      !fs::exists(dir + "/train-images-idx3-ubyte", ec))
    GTEST_SKIP() << dir << " is not installed (Debian: dataset-fashion-mnist)";
  data::DataSplits splits = data::openDataDirectory(dir);
  EXPECT_EQ(splits.format, "idx");
  EXPECT_EQ(splits.train.count, 60000);
  EXPECT_EQ(splits.test.count, 10000);
  for (const ImageSet *set : {&splits.train, &splits.test}) {
    EXPECT_EQ(set->channels, 1);
    EXPECT_EQ(set->height, 28);
    EXPECT_EQ(set->width, 28);
    EXPECT_EQ(set->bytes.size(), static_cast<size_t>(set->count) * 784);
    EXPECT_TRUE(
        std::all_of(set->labels.begin(), set->labels.end(),
                    [](int64_t label) { return label >= 0 && label < 10; }));
  }
  EXPECT_NO_THROW(data::checkFitsModel(splits.train, {1, 32, 32, 10}, "train"));
}

} // namespace
