//===- NpyTest.cpp - NumPy .npy reading and writing -----------------------===//
//
// Round trips through files in a fresh temporary directory, the exact bytes
// of the header NumPy expects, and one clear error per kind of bad file.
// Reading files written by NumPy itself (f64, i32, format 2.0) is checked by
// TorchOracleTest, which runs Python.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/Npy.h"
#include "runtime/reference/Tensor.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

using namespace nsl;
using nsl::support::NpyArray;
using nsl::support::NpyError;

namespace {

class NpyTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "nsl-npy-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "cannot create a temp dir";
    dir = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  std::string path(const std::string &name) const {
    return (std::filesystem::path(dir) / name).string();
  }
  std::string writeBytes(const std::string &name, const std::string &bytes) {
    std::ofstream out(path(name), std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path(name);
  }
  /// A valid version 1.0 file around a given header dict and data.
  static std::string file(const std::string &dict, const std::string &data,
                          char major = 1) {
    std::string header = dict + "\n";
    std::string out = std::string("\x93NUMPY", 6) + major + '\0';
    out.push_back(static_cast<char>(header.size() & 0xff));
    out.push_back(static_cast<char>(header.size() >> 8));
    if (major == 2)
      out += std::string(2, '\0');
    return out + header + data;
  }

  std::string dir;
};

/// Expects `fn` to throw an NpyError whose message contains every piece.
::testing::AssertionResult throwsNpy(const std::function<void()> &fn,
                                     std::vector<std::string> pieces) {
  try {
    fn();
  } catch (const NpyError &e) {
    for (const std::string &piece : pieces)
      if (std::string(e.what()).find(piece) == std::string::npos)
        return ::testing::AssertionFailure()
               << "message \"" << e.what() << "\" lacks \"" << piece << "\"";
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "no NpyError thrown";
}

TEST_F(NpyTest, RoundTripsF32AndI64Tensors) {
  reference::Tensor f({2, 3, 1}, {0.5, -1.25, 3.0, 1e-30, -7.0, 65504.0});
  reference::saveNpy(path("f.npy"), f);
  reference::Tensor g = reference::loadNpy(path("f.npy"));
  EXPECT_EQ(g.dtype, reference::DType::F32);
  EXPECT_EQ(g.shape, f.shape);
  for (size_t i = 0; i < f.data.size(); ++i)
    EXPECT_EQ(g.data[i], double(float(f.data[i])));

  reference::Tensor l({4}, {0, -3, 9007199254740992.0, -123456789012.0},
                      reference::DType::I64);
  reference::saveNpy(path("l.npy"), l);
  reference::Tensor m = reference::loadNpy(path("l.npy"));
  EXPECT_EQ(m.dtype, reference::DType::I64);
  EXPECT_EQ(m.shape, l.shape);
  EXPECT_EQ(m.data, l.data);

  reference::Tensor scalar(reference::Shape{}, {2.5});
  reference::saveNpy(path("s.npy"), scalar);
  EXPECT_EQ(reference::loadNpy(path("s.npy")).shape, reference::Shape{});
  EXPECT_EQ(reference::loadNpy(path("s.npy")).data, scalar.data);
}

TEST_F(NpyTest, RoundTripsEveryDTypeThroughNpyArray) {
  for (const char *dtype : {"f32", "f64", "i64", "i32"}) {
    NpyArray a;
    a.dtype = dtype;
    a.shape = {3, 2};
    a.values = {1, -2, 3, 2147483647, -2147483648.0, 0};
    if (a.dtype[0] == 'f')
      a.values[5] = 0.1; // inexact in f32: rounds
    support::writeNpy(path("a.npy"), a);
    NpyArray b = support::readNpy(path("a.npy"));
    EXPECT_EQ(b.dtype, a.dtype);
    EXPECT_EQ(b.shape, a.shape);
    for (size_t i = 0; i < a.values.size(); ++i)
      EXPECT_EQ(b.values[i], a.dtype == std::string("f32")
                                 ? double(float(a.values[i]))
                                 : a.values[i])
          << dtype << " element " << i;
  }
  NpyArray empty;
  empty.shape = {2, 0};
  support::writeNpy(path("e.npy"), empty);
  EXPECT_EQ(support::readNpy(path("e.npy")).shape, empty.shape);
}

// Image data sets store pixels as uint8, which NumPy describes as '|u1'
// (a byte has no byte order); '<u1' means the same.
TEST_F(NpyTest, ReadsAndWritesUnsignedBytes) {
  NpyArray a;
  a.dtype = "u8";
  a.shape = {2, 2};
  a.values = {0, 1, 128, 255};
  std::string bytes = support::encodeNpy(a, "u8.npy");
  EXPECT_NE(bytes.find("{'descr': '|u1', 'fortran_order': False, 'shape': "
                       "(2, 2), }"),
            std::string::npos);
  EXPECT_EQ(bytes.substr(bytes.size() - 4), std::string("\x00\x01\x80\xff", 4));
  support::writeNpy(path("u8.npy"), a);
  NpyArray b = support::readNpy(path("u8.npy"));
  EXPECT_EQ(b.dtype, "u8");
  EXPECT_EQ(b.shape, a.shape);
  EXPECT_EQ(b.values, a.values);

  NpyArray c = support::readNpy(
      writeBytes("little.npy", file("{'descr': '<u1', 'fortran_order': False, "
                                    "'shape': (3,), }",
                                    std::string("\x07\x00\xfe", 3))));
  EXPECT_EQ(c.dtype, "u8");
  EXPECT_EQ(c.values, (std::vector<double>{7, 0, 254}));

  for (double bad : {256.0, -1.0, 2.5}) {
    a.values = {0, 0, 0, bad};
    EXPECT_TRUE(throwsNpy([&] { support::encodeNpy(a, "bad.npy"); },
                          {"bad.npy", "element 3", "representable as u8"}));
  }
}

TEST_F(NpyTest, WritesTheHeaderNumPyWrites) {
  NpyArray a;
  a.shape = {3};
  a.values = {1, 2, 3};
  std::string bytes = support::encodeNpy(a, "a");
  std::string dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  ASSERT_EQ(bytes.size(), 128u + 12u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<unsigned char>(bytes[8]) + 256 * bytes[9], 118);
  EXPECT_EQ(bytes.substr(10, dict.size()), dict);
  EXPECT_EQ(bytes[127], '\n');
  a.shape = {};
  a.values = {1};
  EXPECT_NE(support::encodeNpy(a, "s").find("'shape': (), }"),
            std::string::npos);
  a.shape = {1, 1};
  EXPECT_NE(support::encodeNpy(a, "m").find("'shape': (1, 1), }"),
            std::string::npos);
}

TEST_F(NpyTest, ReadsVersion2AndTolerantHeaders) {
  std::string data(8, '\0');
  data[6] = '\xf0';
  data[7] = '\x3f'; // 1.0 as <f8
  std::string v2 = file("{'descr': '<f8', 'fortran_order': False, "
                        "'shape': (1,), }",
                        data, 2);
  NpyArray a = support::readNpy(writeBytes("v2.npy", v2));
  EXPECT_EQ(a.dtype, "f64");
  EXPECT_EQ(a.values, std::vector<double>{1.0});
  // Key order, double quotes and no trailing comma are all valid Python.
  std::string other = file("{\"shape\": (1, 1) , 'descr':'<i4', "
                           "'fortran_order':False}",
                           std::string("\xfe\xff\xff\xff", 4));
  NpyArray b = support::readNpy(writeBytes("other.npy", other));
  EXPECT_EQ(b.dtype, "i32");
  EXPECT_EQ(b.shape, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(b.values, std::vector<double>{-2.0});
}

TEST_F(NpyTest, ReportsBadFiles) {
  const std::string good =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string twoFloats(8, '\0');
  auto read = [&](const std::string &name, const std::string &bytes) {
    std::string p = writeBytes(name, bytes);
    return [p] { support::readNpy(p); };
  };
  EXPECT_TRUE(throwsNpy([&] { support::readNpy(path("missing.npy")); },
                        {"missing.npy", "cannot open for reading"}));
  EXPECT_TRUE(throwsNpy(read("empty.npy", ""), {"empty.npy", "truncated"}));
  EXPECT_TRUE(throwsNpy(read("magic.npy", "PK\x03\x04 not numpy at all"),
                        {"magic.npy", "bad magic string"}));
  std::string v3 = file(good, twoFloats);
  v3[6] = 3;
  EXPECT_TRUE(
      throwsNpy(read("v3.npy", v3), {"unsupported format version 3.0"}));
  EXPECT_TRUE(throwsNpy(read("header.npy", file(good, twoFloats).substr(0, 30)),
                        {"header.npy", "truncated header"}));
  EXPECT_TRUE(
      throwsNpy(read("data.npy", file(good, twoFloats.substr(0, 5))),
                {"data.npy", "truncated data", "needs 8 bytes, found 5"}));
  EXPECT_TRUE(throwsNpy(read("extra.npy", file(good, twoFloats + "xx")),
                        {"data size mismatch", "found 10"}));
  EXPECT_TRUE(throwsNpy(
      read("dict.npy", file("{'descr': '<f4', 'shape': (2,), }", twoFloats)),
      {"dict.npy", "malformed header", "'fortran_order'"}));
  EXPECT_TRUE(throwsNpy(
      read("syntax.npy",
           file("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}",
                twoFloats)),
      {"malformed header", "expected True or False"}));
  EXPECT_TRUE(
      throwsNpy(read("key.npy", file("{'descr': '<f4', 'fortran_order': False, "
                                     "'shape': (2,), 'extra': 'x'}",
                                     twoFloats)),
                {"unexpected key 'extra'"}));
  EXPECT_TRUE(
      throwsNpy(read("f16.npy", file("{'descr': '<f2', 'fortran_order': False, "
                                     "'shape': (4,), }",
                                     twoFloats)),
                {"f16.npy", "unsupported dtype '<f2'"}));
  EXPECT_TRUE(
      throwsNpy(read("big.npy", file("{'descr': '>f4', 'fortran_order': False, "
                                     "'shape': (2,), }",
                                     twoFloats)),
                {"unsupported dtype '>f4'"}));
  EXPECT_TRUE(throwsNpy(
      read("fortran.npy", file("{'descr': '<f4', 'fortran_order': True, "
                               "'shape': (2,), }",
                               twoFloats)),
      {"fortran.npy", "Fortran-order arrays are not supported"}));
  std::string huge(8, '\0');
  huge[7] = '\x7f'; // 2^62-ish as <i8
  EXPECT_TRUE(throwsNpy(
      read("huge.npy", file("{'descr': '<i8', 'fortran_order': False, "
                            "'shape': (1,), }",
                            huge)),
      {"exceeds 2^53"}));
  // The convenience loader reports NpyError too.
  EXPECT_TRUE(throwsNpy([&] { reference::loadNpy(path("nope.npy")); },
                        {"nope.npy", "cannot open"}));
}

TEST_F(NpyTest, ReportsUnwritableArrays) {
  NpyArray a;
  a.dtype = "i64";
  a.shape = {2};
  a.values = {1, 2.5};
  EXPECT_TRUE(throwsNpy([&] { support::writeNpy(path("x.npy"), a); },
                        {"x.npy", "element 1", "not an integer"}));
  a.values = {1};
  EXPECT_TRUE(throwsNpy([&] { support::writeNpy(path("x.npy"), a); },
                        {"has 2 elements but 1 values were given"}));
  a.dtype = "f16";
  EXPECT_TRUE(throwsNpy([&] { support::writeNpy(path("x.npy"), a); },
                        {"cannot write dtype 'f16'"}));
  a.dtype = "f32";
  a.values = {1, 2};
  EXPECT_TRUE(
      throwsNpy([&] { support::writeNpy(path("no/such/dir/x.npy"), a); },
                {"no/such/dir/x.npy", "cannot open for writing"}));
}

} // namespace
