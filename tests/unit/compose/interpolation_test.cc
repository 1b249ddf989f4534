// interpolate(): every form of compose's variable syntax, the invalid ones, required
// variables, the "not set" warning, no re-interpolation and the size bound.

#include "compose/interpolation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace overmesh::compose {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const Environment kEnvironment{
    {"TAG", "1.25"}, {"EMPTY", ""}, {"DOLLAR", "$HOME"}, {"NAME", "web"}};

Result<std::string> interpolateOne(const std::string& text, Warnings& warnings,
                                   const LoadLimits& limits = {}) {
  auto root = parseYaml("services:\n  web:\n    image: " + text + "\n", "f.yml");
  if (!root) {
    return std::unexpected(root.error());
  }
  auto done = interpolate(*root, kEnvironment, warnings, limits);
  if (!done) {
    return std::unexpected(done.error());
  }
  return root->find("services")->find("web")->find("image")->text;
}

struct ValidCase {
  std::string text;
  std::string expected;
};

void PrintTo(const ValidCase& c, std::ostream* os) { *os << c.text; }

class InterpolationFormsTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(InterpolationFormsTest, Substitutes) {
  Warnings warnings;
  auto result = interpolateOne(GetParam().text, warnings);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(*result, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Forms, InterpolationFormsTest,
    ::testing::Values(ValidCase{"$TAG", "1.25"}, ValidCase{"${TAG}", "1.25"},
                      ValidCase{"nginx:${TAG}-alpine", "nginx:1.25-alpine"},
                      ValidCase{"a$TAG.b", "a1.25.b"}, ValidCase{"${NAME}_${TAG}", "web_1.25"},
                      ValidCase{"${UNSET:-dflt}", "dflt"}, ValidCase{"${EMPTY:-dflt}", "dflt"},
                      ValidCase{"${TAG:-dflt}", "1.25"}, ValidCase{"${UNSET-dflt}", "dflt"},
                      ValidCase{"${EMPTY-dflt}", ""}, ValidCase{"${TAG-dflt}", "1.25"},
                      ValidCase{"${UNSET:-}", ""}, ValidCase{"${TAG:?need it}", "1.25"},
                      ValidCase{"${EMPTY?need it}", ""}, ValidCase{"$$", "$"},
                      ValidCase{"$${TAG}", "${TAG}"}, ValidCase{"$$$TAG", "$1.25"},
                      ValidCase{"\"cost: 5$$\"", "cost: 5$"}, ValidCase{"${UNSET:-a b:c}", "a b:c"},
                      // The result is not interpolated again.
                      ValidCase{"$DOLLAR", "$HOME"}, ValidCase{"no-dollar", "no-dollar"},
                      // A default is interpolated when it is used, nested or not.
                      ValidCase{"${UNSET:-$$x}", "$x"},
                      ValidCase{"${UNSET:-${ALSO_UNSET:-x}}", "x"},
                      ValidCase{"${UNSET:-${TAG:-x}}", "1.25"}, ValidCase{"${UNSET:-$TAG}", "1.25"},
                      ValidCase{"nginx:${UNSET-a${NAME}b}-c", "nginx:awebb-c"},
                      ValidCase{"${TAG:-${UNSET}}", "1.25"},
                      ValidCase{"${UNSET:-${A:-${B:-${C:-deep}}}}", "deep"},
                      ValidCase{"\"${UNSET:-{x}}\"", "{x}"}));

struct InvalidCase {
  std::string text;
  std::string why;
};

void PrintTo(const InvalidCase& c, std::ostream* os) { *os << c.text; }

class InvalidInterpolationTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidInterpolationTest, IsRefusedWithThePosition) {
  Warnings warnings;
  auto result = interpolateOne(GetParam().text, warnings);
  ASSERT_FALSE(result.has_value()) << *result;
  EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(result.error().message, HasSubstr("f.yml:3: services.web.image: invalid "
                                                "interpolation format"));
  EXPECT_THAT(result.error().message, HasSubstr(GetParam().why));
}

INSTANTIATE_TEST_SUITE_P(
    Forms, InvalidInterpolationTest,
    ::testing::Values(InvalidCase{"\"a${\"", "at character 2"},
                      InvalidCase{"\"${TAG\"", "without a closing"},
                      InvalidCase{"\"x ${TAG:+alt}\"", "at character 3: \":+\" after the name TAG"},
                      InvalidCase{"\"${TAG+alt}\"", "\"+a\" after the name TAG"},
                      InvalidCase{"\"${}\"", "a variable name starts with"},
                      InvalidCase{"\"${1A}\"", "a variable name starts with"},
                      InvalidCase{"\"end$\"", "a \"$\" at the end"},
                      InvalidCase{"\"a $ b\"", "must be followed by a name"},
                      InvalidCase{"\"${UNSET:-${}}\"", "at character 10: a variable name"},
                      InvalidCase{"\"${UNSET:-${TAG\"", "without a closing"}));

TEST(InterpolationTest, RequiredVariableNamesFileLineAndPath) {
  Warnings warnings;
  auto result = interpolateOne("${MISSING:?set the image tag}", warnings);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().message,
            "f.yml:3: services.web.image: required variable MISSING is missing a value: set "
            "the image tag");
  result = interpolateOne("${EMPTY:?}", warnings);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().message,
            "f.yml:3: services.web.image: required variable EMPTY is missing a value");
}

TEST(InterpolationTest, RequiredVariableMessageIsInterpolated) {
  Warnings warnings;
  auto result = interpolateOne("\"${MISSING:?need $NAME (${UNSET:-or a tag})}\"", warnings);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().message,
            "f.yml:3: services.web.image: required variable MISSING is missing a value: need "
            "web (or a tag)");
}

TEST(InterpolationTest, AnUnusedDefaultIsNotExpandedAndDoesNotWarn) {
  Warnings warnings;
  auto result = interpolateOne("${TAG:-$UNSET}", warnings);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(*result, "1.25");
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(InterpolationTest, RefusesDefaultsNestedDeeperThanTenLevels) {
  std::string text = "x";
  for (int i = 0; i < 11; ++i) {
    text = "${UNSET:-" + text + "}";
  }
  Warnings warnings;
  auto result = interpolateOne("\"" + text + "\"", warnings);
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error().message, HasSubstr("nested deeper than 10 levels"));
  text = "x";
  for (int i = 0; i < 10; ++i) {
    text = "${UNSET:-" + text + "}";
  }
  result = interpolateOne("\"" + text + "\"", warnings);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(*result, "x");
}

TEST(InterpolationTest, RefusesANestedDefaultThatGrowsPastTheLimit) {
  LoadLimits limits;
  limits.maxScalarBytes = 20;
  Warnings warnings;
  auto result = interpolateOne("${UNSET:-$TAG$TAG$TAG$TAG$TAG$TAG}", warnings, limits);
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error().message, HasSubstr("grows beyond 20 bytes"));
}

// docker/cli interpolates services, networks, volumes, secrets and configs only.
TEST(InterpolationTest, OnlyTheSectionsAreInterpolated) {
  auto root = parseYaml(
      "version: \"$V\"\nx-meta: $X\nname: $N\nservices:\n  web:\n    image: $TAG\n"
      "networks:\n  n:\n    name: $NAME\nvolumes:\n  v:\n    name: $NAME\n"
      "secrets:\n  s:\n    name: $NAME\nconfigs:\n  c:\n    name: $NAME\n",
      "f.yml");
  ASSERT_TRUE(root.has_value()) << root.error().message;
  Warnings warnings;
  ASSERT_TRUE(interpolate(*root, kEnvironment, warnings).has_value());
  EXPECT_EQ(root->find("version")->text, "$V");
  EXPECT_EQ(root->find("x-meta")->text, "$X");
  EXPECT_EQ(root->find("name")->text, "$N");
  EXPECT_EQ(root->find("services")->find("web")->find("image")->text, "1.25");
  for (const char* section : {"networks", "volumes", "secrets", "configs"}) {
    const Value* body = root->find(section);
    ASSERT_NE(body, nullptr) << section;
    EXPECT_EQ(body->entries[0].second.find("name")->text, "web") << section;
  }
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(InterpolationTest, UnsetVariableWarnsOncePerVariable) {
  auto root = parseYaml("services:\n  a: $X\n  b: ${X}\n  c: [$Y, $X]\n  d: ${Z:-z}\n", "f.yml");
  ASSERT_TRUE(root.has_value());
  Warnings warnings;
  ASSERT_TRUE(interpolate(*root, kEnvironment, warnings).has_value());
  EXPECT_THAT(warnings,
              ElementsAre("The \"X\" variable is not set. Defaulting to a blank string.",
                          "The \"Y\" variable is not set. Defaulting to a blank string."));
  EXPECT_EQ(root->find("services")->find("a")->text, "");
  EXPECT_EQ(root->find("services")->find("c")->items[0].text, "");
}

TEST(InterpolationTest, KeysAreNotInterpolated) {
  auto root = parseYaml("networks:\n  $TAG: $TAG\n", "f.yml");
  ASSERT_TRUE(root.has_value());
  Warnings warnings;
  ASSERT_TRUE(interpolate(*root, kEnvironment, warnings).has_value());
  EXPECT_EQ(root->find("networks")->entries[0].first.text, "$TAG");
  EXPECT_EQ(root->find("networks")->entries[0].second.text, "1.25");
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(InterpolationTest, PathOfANestedSequenceItem) {
  auto root =
      parseYaml("services:\n  web:\n    ports:\n      - \"80\"\n      - ${P:?no port}\n", "f.yml");
  ASSERT_TRUE(root.has_value());
  Warnings warnings;
  auto done = interpolate(*root, kEnvironment, warnings);
  ASSERT_FALSE(done.has_value());
  EXPECT_THAT(done.error().message,
              HasSubstr("f.yml:5: services.web.ports[1]: required variable P"));
}

TEST(InterpolationTest, RefusesAValueThatGrowsPastTheLimit) {
  LoadLimits limits;
  limits.maxScalarBytes = 20;
  Warnings warnings;
  auto result = interpolateOne("$TAG$TAG$TAG$TAG$TAG$TAG", warnings, limits);
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error().message, HasSubstr("grows beyond 20 bytes"));
}

TEST(InterpolationTest, RefusesValuesThatGrowPastTheTotalLimit) {
  LoadLimits limits;
  limits.maxExpandedBytes = 1000;
  std::string text = "volumes:\n  a: [";
  for (int i = 0; i < 20; ++i) {
    text += i == 0 ? "$BIG" : ", $BIG";
  }
  auto root = parseYaml(text + "]\n", "f.yml");
  ASSERT_TRUE(root.has_value());
  Warnings warnings;
  auto done = interpolate(*root, Environment{{"BIG", std::string(100, 'x')}}, warnings, limits);
  ASSERT_FALSE(done.has_value());
  EXPECT_THAT(done.error().message,
              HasSubstr("f.yml:2: volumes.a[10]: the values grow beyond 1000 bytes in all"));
}

TEST(InterpolationTest, RefusesAVariableThatIsNotUtf8) {
  auto root = parseYaml("configs:\n  a: $BAD\n", "f.yml");
  ASSERT_TRUE(root.has_value());
  Warnings warnings;
  auto done = interpolate(*root, Environment{{"BAD", "\xff"}}, warnings);
  ASSERT_FALSE(done.has_value());
  EXPECT_THAT(done.error().message, HasSubstr("f.yml:2: configs.a: the value is not UTF-8 text"));
}

}  // namespace
}  // namespace overmesh::compose
