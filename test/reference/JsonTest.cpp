//===- JsonTest.cpp - Tests of the runtime's JSON library -----------------===//
//
// Round trips, escapes, numbers at the edges of double and int64, and every
// parse error with its position.
//
//===----------------------------------------------------------------------===//
#include "runtime/support/Json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using nsl::support::JsonError;
using nsl::support::JsonParseOptions;
using nsl::support::JsonValue;
using nsl::support::JsonView;
using nsl::support::JsonWriteOptions;
using nsl::support::parseJson;
using nsl::support::writeJson;

namespace {

/// The message of the JsonError that `f` throws ("" if none).
template <typename F> std::string errorOf(F &&f) {
  try {
    f();
  } catch (const JsonError &e) {
    return e.what();
  }
  return "";
}

std::string parseError(std::string_view text) {
  return errorOf([&] { parseJson(text); });
}

std::string compact(const JsonValue &v) { return writeJson(v); }

TEST(JsonParse, Scalars) {
  EXPECT_TRUE(parseJson("null").isNull());
  EXPECT_TRUE(parseJson("true").asBool());
  EXPECT_FALSE(parseJson(" false ").asBool());
  EXPECT_EQ(parseJson("\"hi\"").asString(), "hi");
  EXPECT_EQ(parseJson("42").asInteger(), 42);
  EXPECT_EQ(parseJson("\t\r\n 7 \n").asInteger(), 7);
}

TEST(JsonParse, Integers) {
  JsonValue v = parseJson("-17");
  EXPECT_TRUE(v.isInteger());
  EXPECT_EQ(v.asInteger(), -17);
  EXPECT_EQ(v.asNumber(), -17.0);
  // Exact beyond 2^53, where a double would round.
  EXPECT_EQ(parseJson("9007199254740993").asInteger(), 9007199254740993LL);
  EXPECT_EQ(parseJson("9223372036854775807").asInteger(),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parseJson("-9223372036854775808").asInteger(),
            std::numeric_limits<int64_t>::min());
  // Beyond int64: a double only.
  JsonValue big = parseJson("9223372036854775808");
  EXPECT_FALSE(big.isInteger());
  EXPECT_EQ(big.asNumber(), 9223372036854775808.0);
  // Integral values written with a fraction or exponent are integers too.
  EXPECT_EQ(parseJson("3.0").asInteger(), 3);
  EXPECT_EQ(parseJson("2e3").asInteger(), 2000);
  EXPECT_FALSE(parseJson("2.5").isInteger());
  EXPECT_FALSE(parseJson("1e20").isInteger());
}

TEST(JsonParse, Doubles) {
  EXPECT_EQ(parseJson("0.1").asNumber(), 0.1);
  EXPECT_EQ(parseJson("-2.5e-3").asNumber(), -2.5e-3);
  EXPECT_EQ(parseJson("1E+2").asNumber(), 100.0);
  EXPECT_EQ(parseJson("1e-300").asNumber(), 1e-300);
  EXPECT_EQ(parseJson("4.9e-324").asNumber(), 4.9e-324); // subnormal
  EXPECT_EQ(parseJson("1.7976931348623157e308").asNumber(),
            std::numeric_limits<double>::max());
  // Underflow rounds to zero, keeping the sign.
  EXPECT_EQ(parseJson("1e-400").asNumber(), 0.0);
  EXPECT_TRUE(std::signbit(parseJson("-1e-400").asNumber()));
  EXPECT_EQ(parseJson("0.0000001e-400").asNumber(), 0.0);
  EXPECT_TRUE(std::signbit(parseJson("-0").asNumber()));
  EXPECT_EQ(parseJson("-0").asInteger(), 0);
}

TEST(JsonParse, Containers) {
  JsonValue v = parseJson(R"({"b": [1, 2, {"c": null}], "a": {}, "e": []})");
  ASSERT_TRUE(v.isObject());
  ASSERT_EQ(v.size(), 3u);
  // Insertion order is the document order.
  EXPECT_EQ(v.asObject()[0].first, "b");
  EXPECT_EQ(v.asObject()[1].first, "a");
  EXPECT_EQ(v.asObject()[2].first, "e");
  EXPECT_EQ(v.find("b")->asArray().size(), 3u);
  EXPECT_TRUE(v.find("b")->asArray()[2].find("c")->isNull());
  EXPECT_EQ(v.find("missing"), nullptr);
  EXPECT_EQ(v.find("a")->size(), 0u);
}

TEST(JsonParse, Escapes) {
  EXPECT_EQ(parseJson(R"("\"\\\/\b\f\n\r\t")").asString(), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(parseJson(R"("\u0041\u00e9\u20AC")").asString(),
            "A\xC3\xA9\xE2\x82\xAC");
  // U+1F600 as a surrogate pair.
  EXPECT_EQ(parseJson(R"("\ud83d\ude00")").asString(), "\xF0\x9F\x98\x80");
  // NUL is a valid character.
  EXPECT_EQ(parseJson(R"("a\u0000b")").asString(), std::string("a\0b", 3));
  // Raw UTF-8 passes through.
  EXPECT_EQ(parseJson("\"\xE2\x82\xAC\"").asString(), "\xE2\x82\xAC");
  // A byte order mark is skipped.
  EXPECT_EQ(parseJson("\xEF\xBB\xBF[1]").size(), 1u);
}

TEST(JsonParse, ErrorsGivePositions) {
  struct Case {
    const char *text;
    const char *message;
  };
  const Case cases[] = {
      {"", "line 1, column 1: expected a JSON value, got end of input"},
      {"  ", "line 1, column 3: expected a JSON value, got end of input"},
      {"[1, 2", "line 1, column 6: expected ',' or ']' after an array "
                "element, got end of input"},
      {"[1 2]", "line 1, column 4: expected ',' or ']' after an array "
                "element, got '2'"},
      {"[1,]", "line 1, column 4: expected a value after ','"},
      {"{\"a\":1,}", "line 1, column 8: expected a key after ','"},
      {"{\"a\" 1}", "line 1, column 6: expected ':' after the key, got '1'"},
      {"{1:2}", "line 1, column 2: expected a string key, got '1'"},
      {"{\"a\":1 \"b\":2}",
       "line 1, column 8: expected ',' or '}' after an object member"},
      {"{\"a\":1,\n \"a\":2}", "line 2, column 2: duplicate key \"a\""},
      {"[1]\n x", "line 2, column 2: unexpected 'x' after the JSON value"},
      {"{} {}", "line 1, column 4: unexpected '{' after the JSON value"},
      {"tru", "line 1, column 1: invalid literal; expected 'true'"},
      {"nul", "line 1, column 1: invalid literal; expected 'null'"},
      {"[NaN]", "line 1, column 2: unexpected 'N'; JSON has no NaN"},
      {"Infinity", "line 1, column 1: unexpected 'I'; JSON has no NaN"},
      {"-", "line 1, column 2: expected a digit after '-', got end of input"},
      {"-a", "line 1, column 2: expected a digit after '-', got 'a'"},
      {"012", "line 1, column 1: leading zeros are not allowed"},
      {"1.", "line 1, column 3: expected a digit after the decimal point"},
      {".5", "line 1, column 1: expected a JSON value, got '.'"},
      {"+1", "line 1, column 1: expected a JSON value, got '+'"},
      {"1e", "line 1, column 3: expected a digit in the exponent"},
      {"1e+", "line 1, column 4: expected a digit in the exponent"},
      {"1e400", "line 1, column 1: number 1e400 is out of the range"},
      {"-1e400", "line 1, column 1: number -1e400 is out of the range"},
      {"\"abc", "line 1, column 1: unterminated string"},
      {"\"abc\\", "line 1, column 1: unterminated string"},
      {"\"a\nb\"", "line 1, column 3: control character byte 0x0A must be "
                   "escaped in a string (unterminated string?)"},
      {"\"a\tb\"", "line 1, column 3: control character byte 0x09"},
      {"\"\\x\"", "line 1, column 2: invalid escape: backslash followed by "
                  "'x'"},
      {"\"\\u12G4\"", "line 1, column 6: expected 4 hexadecimal digits"},
      {"\"\\ud83d\"", "line 1, column 2: unpaired high surrogate"},
      {"\"\\ud83d\\u0041\"", "line 1, column 2: unpaired high surrogate"},
      {"\"\\ude00\"", "line 1, column 2: unpaired low surrogate"},
      {"\"\xC3\"", "line 1, column 2: invalid UTF-8 (byte 0xC3)"},
      {"\"\xC0\xAF\"", "line 1, column 2: invalid UTF-8"},     // overlong
      {"\"\xED\xA0\x80\"", "line 1, column 2: invalid UTF-8"}, // surrogate
      {"\"\xF4\x90\x80\x80\"", "line 1, column 2: invalid UTF-8"},
      {"\xFF", "line 1, column 1: expected a JSON value, got byte 0xFF"},
      {"[1, // comment\n 2]", "line 1, column 5: expected a JSON value, got "
                              "'/'"},
      // Columns count characters: the euro sign is one column.
      {"[\"\xE2\x82\xAC\" x]", "line 1, column 6: expected ',' or ']'"},
  };
  for (const Case &c : cases) {
    std::string message = parseError(c.text);
    EXPECT_NE(message.find(c.message), std::string::npos)
        << "input: " << c.text << "\nmessage: " << message;
  }
}

TEST(JsonParse, SourceNamePrefixesErrors) {
  JsonParseOptions options;
  options.sourceName = "graph.json";
  std::string message = errorOf([&] { parseJson("[1,\n2,\n]", options); });
  EXPECT_EQ(message, "graph.json: line 3, column 1: expected a value after "
                     "',' (trailing commas are not allowed)");
}

TEST(JsonParse, DepthLimit) {
  std::string deep(300, '[');
  deep += std::string(300, ']');
  EXPECT_NE(parseError(deep).find("nesting deeper than 256 levels"),
            std::string::npos);
  JsonParseOptions options;
  options.maxDepth = 300;
  EXPECT_NO_THROW(parseJson(deep, options));
  std::string objects;
  for (int i = 0; i < 257; ++i)
    objects += "{\"a\":";
  EXPECT_NE(parseError(objects).find("line 1, column 1281: nesting deeper"),
            std::string::npos);
  // A hostile depth is rejected without exhausting the stack.
  EXPECT_NE(parseError(std::string(1000000, '[')).find("nesting deeper"),
            std::string::npos);
}

TEST(JsonParse, ManyKeysAndDuplicatesInLargeObjects) {
  std::string text = "{";
  for (int i = 0; i < 1000; ++i)
    text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  std::string valid = text.substr(0, text.size() - 1) + "}";
  EXPECT_EQ(parseJson(valid).size(), 1000u);
  std::string duplicate = text + "\"k500\":0}";
  EXPECT_NE(parseError(duplicate).find("duplicate key \"k500\""),
            std::string::npos);
}

TEST(JsonWrite, Compact) {
  JsonValue v;
  v["format"] = "nsl-graph";
  v["version"] = 1;
  v["shape"].push_back(2);
  v["shape"].push_back(int64_t(3));
  v["alpha"] = 0.0;
  v["eps"] = 1e-5;
  v["flag"] = true;
  v["none"] = nullptr;
  v["empty"] = JsonValue::array();
  v["obj"] = JsonValue::object();
  EXPECT_EQ(compact(v), R"({"format":"nsl-graph","version":1,"shape":[2,3],)"
                        R"("alpha":0,"eps":1e-05,"flag":true,"none":null,)"
                        R"("empty":[],"obj":{}})");
}

TEST(JsonWrite, Pretty) {
  JsonValue v = parseJson(
      R"({"a":[1,2],"b":[{"c":"d"},[]],"e":{},"f":[],"g":{"h":-1.5}})");
  JsonWriteOptions options;
  options.indent = 2;
  EXPECT_EQ(writeJson(v, options), R"({
  "a": [1, 2],
  "b": [
    {
      "c": "d"
    },
    []
  ],
  "e": {},
  "f": [],
  "g": {
    "h": -1.5
  }
})");
  EXPECT_EQ(parseJson(writeJson(v, options)), v);
}

TEST(JsonWrite, Escapes) {
  std::string s = "q\" b\\ /\b\f\n\r\t\x01\x1F\x7F \xC3\xA9";
  s += '\0';
  EXPECT_EQ(
      compact(JsonValue(s)),
      "\"q\\\" b\\\\ /\\b\\f\\n\\r\\t\\u0001\\u001f\x7F \xC3\xA9\\u0000\"");
  EXPECT_EQ(parseJson(compact(JsonValue(s))).asString(), s);
}

TEST(JsonWrite, NumbersRoundTripExactly) {
  const double values[] = {0.1,
                           1.0 / 3.0,
                           -2.5e-3,
                           1e-300,
                           4.9e-324,
                           1e20,
                           -1e300,
                           123456.789,
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::min(),
                           std::numeric_limits<double>::epsilon(),
                           -0.0,
                           9007199254740993.0};
  for (double d : values) {
    double back = parseJson(compact(JsonValue(d))).asNumber();
    EXPECT_EQ(std::memcmp(&back, &d, sizeof d), 0) << compact(JsonValue(d));
  }
  std::mt19937_64 rng(0);
  for (int i = 0; i < 10000; ++i) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d))
      continue;
    double back = parseJson(compact(JsonValue(d))).asNumber();
    ASSERT_EQ(std::memcmp(&back, &d, sizeof d), 0) << compact(JsonValue(d));
  }
  // Shortest form, integers without a decimal point.
  EXPECT_EQ(compact(JsonValue(0.1)), "0.1");
  EXPECT_EQ(compact(JsonValue(3.0)), "3");
  EXPECT_EQ(compact(JsonValue(-0.0)), "-0");
  EXPECT_EQ(compact(JsonValue(1e20)), "1e+20");
  EXPECT_EQ(compact(JsonValue(int64_t(9007199254740993LL))),
            "9007199254740993");
  EXPECT_EQ(compact(JsonValue(std::numeric_limits<int64_t>::min())),
            "-9223372036854775808");
  EXPECT_EQ(compact(JsonValue(std::numeric_limits<uint64_t>::max())),
            "18446744073709551616");
  EXPECT_EQ(compact(JsonValue(size_t(7))), "7");
}

TEST(JsonWrite, RejectsNonFiniteNumbersWithPath) {
  JsonValue v;
  v["nodes"].push_back(JsonValue::object());
  v["nodes"].asArray()[0]["conv.weight"] =
      std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(errorOf([&] { compact(v); }),
            "cannot write JSON: the number nan is not finite (JSON has no NaN "
            "or Infinity) at 'nodes[0][\"conv.weight\"]'");
  EXPECT_NE(errorOf([&] {
              compact(JsonValue(std::numeric_limits<double>::infinity()));
            }).find("the number inf is not finite"),
            std::string::npos);
  EXPECT_NE(errorOf([&] {
              compact(JsonValue("\xC3"));
            }).find("string is not valid UTF-8 at the top level"),
            std::string::npos);
}

TEST(JsonRoundTrip, Documents) {
  const char *documents[] = {
      "null",
      "[]",
      "{}",
      R"([1,-2,3.5,1e-300,"x",true,false,null,[[]],{"":{}}])",
      (R"({"format":"nsl-graph","version":1,"arguments":[{"value":0,)"
       R"("name":"conv.weight","shape":[4,3,3,3]}],"z":"\u20ac\ud83d\ude00"})"),
  };
  for (const char *text : documents) {
    JsonValue v = parseJson(text);
    EXPECT_EQ(parseJson(compact(v)), v) << text;
    JsonWriteOptions pretty;
    pretty.indent = 4;
    EXPECT_EQ(parseJson(writeJson(v, pretty)), v) << text;
    EXPECT_EQ(compact(parseJson(compact(v))), compact(v));
  }
}

TEST(JsonValueTest, EqualityIgnoresMemberOrder) {
  EXPECT_EQ(parseJson(R"({"a":1,"b":[1,2]})"),
            parseJson(R"({"b":[1,2],"a":1.0})"));
  EXPECT_NE(parseJson(R"({"a":1})"), parseJson(R"({"a":1,"b":2})"));
  EXPECT_NE(parseJson("[1,2]"), parseJson("[2,1]"));
  EXPECT_NE(parseJson("1"), parseJson("\"1\""));
  EXPECT_NE(parseJson("9007199254740993"), parseJson("9007199254740992"));
}

TEST(JsonValueTest, AccessorErrors) {
  JsonValue v = parseJson(R"({"a":"text","n":1.5})");
  EXPECT_EQ(errorOf([&] { v.asArray(); }), "expected an array, got an object");
  EXPECT_EQ(errorOf([&] { v.find("a")->asInteger(); }),
            "expected an integer, got the string \"text\"");
  EXPECT_EQ(errorOf([&] { v.find("n")->asInteger(); }),
            "expected an integer, got 1.5");
  EXPECT_EQ(errorOf([&] { v.find("n")->asBool(); }),
            "expected a boolean, got 1.5");
  EXPECT_EQ(errorOf([&] { JsonValue().asString(); }),
            "expected a string, got null");
}

TEST(JsonViewTest, ErrorsNameThePath) {
  JsonValue doc = parseJson(R"({"nodes":[{"op":"relu"},{"op":"sim_conv2d",
      "operands":{"weight":"x","conv.bias":[1]},"attributes":{"stride":[1,2.5]}}]})");
  JsonView root(doc);
  JsonView node = root["nodes"][1];
  EXPECT_EQ(node.path(), "nodes[1]");
  EXPECT_EQ(node["op"].asString(), "sim_conv2d");
  EXPECT_EQ(errorOf([&] {
              node["operands"]["weight"].expect(JsonValue::Kind::Array);
            }),
            "expected an array at 'nodes[1].operands.weight', got the string "
            "\"x\"");
  EXPECT_EQ(errorOf([&] { node["operands"]["conv.bias"].asInteger(); }),
            "expected an integer at 'nodes[1].operands[\"conv.bias\"]', got "
            "an array");
  EXPECT_EQ(errorOf([&] { node["attributes"]["stride"][1].asInteger(); }),
            "expected an integer at 'nodes[1].attributes.stride[1]', got 2.5");
  EXPECT_EQ(errorOf([&] { node["results"]; }),
            "missing member 'results' at 'nodes[1]'");
  EXPECT_EQ(errorOf([&] { root["format"]; }),
            "missing member 'format' at the top level");
  EXPECT_EQ(errorOf([&] { root["nodes"][5]; }),
            "index 5 is out of range (the array has 2 elements) at 'nodes'");
  EXPECT_EQ(errorOf([&] { root["nodes"]["x"]; }),
            "expected an object at 'nodes', got an array");
  EXPECT_EQ(errorOf([&] { node.fail("unknown op"); }),
            "unknown op at 'nodes[1]'");
  EXPECT_FALSE(node.find("results").has_value());
  ASSERT_EQ(root["nodes"].elements().size(), 2u);
  EXPECT_EQ(root["nodes"].elements()[0]["op"].asString(), "relu");
  auto members = node["operands"].members();
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[1].first, "conv.bias");
  EXPECT_EQ(members[1].second.path(), "nodes[1].operands[\"conv.bias\"]");
}

} // namespace
