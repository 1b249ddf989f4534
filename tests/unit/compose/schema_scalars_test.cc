// The scalar readers of the schema (schema_support.h): booleans, whole numbers,
// durations, choices, and the "did you mean" suggestion.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <limits>
#include <ostream>
#include <string>

#include "compose/schema_support.h"

namespace overmesh::compose {
namespace {

Value scalarAt(std::string text, bool quoted = false) {
  Value value = Value::scalar(std::move(text), Mark{"stack.yml", 7, 3});
  value.quoted = quoted;
  return value;
}

struct BoolCase {
  std::string text;
  bool expected;
};

void PrintTo(const BoolCase& c, std::ostream* os) { *os << c.text; }

class BoolWordsTest : public ::testing::TestWithParam<BoolCase> {};

TEST_P(BoolWordsTest, AcceptsYamlOneOneFormsQuotedOrNot) {
  for (bool quoted : {false, true}) {
    auto flag = readBool(scalarAt(GetParam().text, quoted), "services.web.init");

    ASSERT_TRUE(flag.has_value()) << flag.error().message;
    EXPECT_EQ(*flag, GetParam().expected);
  }
}

INSTANTIATE_TEST_SUITE_P(Words, BoolWordsTest,
                         ::testing::Values(BoolCase{"true", true}, BoolCase{"True", true},
                                           BoolCase{"YES", true}, BoolCase{"on", true},
                                           BoolCase{"false", false}, BoolCase{"No", false},
                                           BoolCase{"OFF", false}));

TEST(SchemaScalarsTest, RefusesAWordThatIsNotABoolean) {
  auto flag = readBool(scalarAt("1"), "services.web.init");

  ASSERT_FALSE(flag.has_value());
  EXPECT_EQ(flag.error().message,
            "stack.yml:7: services.web.init: \"1\" is not a boolean: use true or false "
            "(yes/no and on/off also work)");
}

TEST(SchemaScalarsTest, ReadsWholeNumbersInRange) {
  auto number = readWhole(scalarAt("42", true), "x", 0, 100);

  ASSERT_TRUE(number.has_value()) << number.error().message;
  EXPECT_EQ(*number, 42);
}

TEST(SchemaScalarsTest, RefusesNumbersOutOfRangeAndBeyondInt64) {
  auto tooBig = readWhole(scalarAt("101"), "x", 0, 100);
  auto huge =
      readWhole(scalarAt("99999999999999999999"), "x", 0, std::numeric_limits<std::int64_t>::max());

  ASSERT_FALSE(tooBig.has_value());
  EXPECT_EQ(tooBig.error().message,
            "stack.yml:7: x: \"101\" is out of range: use a whole number from 0 to 100");
  ASSERT_FALSE(huge.has_value());
  EXPECT_EQ(huge.error().message,
            "stack.yml:7: x: \"99999999999999999999\" is out of range: use a whole number ≥ 0");
}

TEST(SchemaScalarsTest, TellsANonNumberFromAFraction) {
  auto text = readWhole(scalarAt("3x"), "x", 0, 9);
  auto fraction = readWhole(scalarAt("2e3"), "x", 0, 9);
  auto empty = readWhole(scalarAt("", true), "x", 0, 9);

  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error().message,
            "stack.yml:7: x: \"3x\" is not a number: use a whole number from 0 to 9");
  ASSERT_FALSE(fraction.has_value());
  EXPECT_EQ(fraction.error().message,
            "stack.yml:7: x: \"2e3\" is not a whole number: use a whole number from 0 to 9");
  ASSERT_FALSE(empty.has_value());
}

TEST(SchemaScalarsTest, ReadsGoDurations) {
  auto duration = readDurationMs(scalarAt("1m30s"), "x");
  auto zero = readDurationMs(scalarAt("0"), "x");

  ASSERT_TRUE(duration.has_value()) << duration.error().message;
  EXPECT_EQ(*duration, 90'000);
  ASSERT_TRUE(zero.has_value()) << zero.error().message;
  EXPECT_EQ(*zero, 0);
}

TEST(SchemaScalarsTest, RefusesADurationWithoutUnit) {
  auto duration = readDurationMs(scalarAt("30"), "services.web.stop_grace_period");

  ASSERT_FALSE(duration.has_value());
  EXPECT_EQ(duration.error().message,
            "stack.yml:7: services.web.stop_grace_period: \"30\" is not a duration: use a "
            "duration: numbers with units h, m, s, ms, us or ns, e.g. 500ms, 1.5s, 1m30s (at "
            "most 1000000000ms)");
}

TEST(SchemaScalarsTest, SuggestsTheClosestKeyWithinTwoEdits) {
  constexpr std::array<std::string_view, 4> known = {"image", "init", "labels", "replicas"};

  EXPECT_EQ(closestKey("replcas", known), "replicas");
  EXPECT_EQ(closestKey("imgae", known), "image");
  EXPECT_EQ(closestKey("volumes", known), "");
}

TEST(SchemaScalarsTest, NamesStartWithALetterOrDigit) {
  EXPECT_TRUE(checkName(scalarAt("web-1.front_end"), "services.web", "service").has_value());
  EXPECT_TRUE(checkName(scalarAt("9lives"), "services.9lives", "service").has_value());
  EXPECT_FALSE(checkName(scalarAt("-web"), "services.-web", "service").has_value());
  EXPECT_FALSE(checkName(scalarAt("web/1"), "services.web/1", "service").has_value());
  EXPECT_FALSE(checkName(scalarAt(""), "services.", "service").has_value());
}

TEST(SchemaScalarsTest, AValueWithoutFileIsNamedByItsPath) {
  auto flag = readBool(Value::scalar("maybe"), "services.web.init");

  ASSERT_FALSE(flag.has_value());
  EXPECT_EQ(flag.error().message,
            "services.web.init: \"maybe\" is not a boolean: use true or false (yes/no and "
            "on/off also work)");
}

}  // namespace
}  // namespace overmesh::compose
