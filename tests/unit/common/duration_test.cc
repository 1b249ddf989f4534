#include "common/duration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <string>

#include "common/error.h"

namespace overmesh {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::HasSubstr;

struct ValidCase {
  std::string text;
  std::chrono::milliseconds expected;
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const ValidCase& c, std::ostream* os) { *os << '"' << c.text << '"'; }

class ValidDurationTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ValidDurationTest, ParsesToMilliseconds) {
  auto parsed = parseDuration(GetParam().text, "--node-timeout");

  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(*parsed, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Durations, ValidDurationTest,
    ::testing::Values(ValidCase{"500ms", 500ms}, ValidCase{"3s", 3s}, ValidCase{"2m", 2min},
                      ValidCase{"0s", 0ms}, ValidCase{"1ms", 1ms}, ValidCase{"90s", 90s},
                      ValidCase{"1000000000ms", 1'000'000'000ms}, ValidCase{"1m30s", 90s},
                      ValidCase{"3h", 3h}, ValidCase{"1h2m3s4ms", 3'723'004ms}, ValidCase{"0", 0ms},
                      ValidCase{"1s500ms", 1500ms}, ValidCase{"1.5s", 1500ms},
                      ValidCase{"0.5s", 500ms}, ValidCase{".5s", 500ms}, ValidCase{"1.s", 1s},
                      ValidCase{"100us", 0ms}, ValidCase{"1500us", 2ms},
                      ValidCase{"100\u00b5s", 0ms}, ValidCase{"2500\u03bcs", 3ms},
                      ValidCase{"1m0.5s", 60'500ms}, ValidCase{"250ns", 0ms},
                      ValidCase{"499999ns", 0ms}, ValidCase{"500000ns", 1ms},
                      ValidCase{"2h45m", 9'900'000ms}, ValidCase{"1.0001ms", 1ms},
                      ValidCase{"0.0000000001h", 0ms}, ValidCase{"1.25h", 4'500'000ms}),
    [](const ::testing::TestParamInfo<ValidCase>& paramInfo) {
      // gtest names take letters, digits and '_' only: "1.5s" → "1_5s", "µs" → "__s".
      std::string name = paramInfo.param.text;
      for (char& c : name) {
        bool keep = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        c = keep ? c : '_';
      }
      return name;
    });

struct InvalidCase {
  std::string label;
  std::string text;
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const InvalidCase& c, std::ostream* os) { *os << c.label; }

class InvalidDurationTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidDurationTest, IsInvalidArgumentNamingTheFlagAndTheValue) {
  auto parsed = parseDuration(GetParam().text, "--node-timeout");

  ASSERT_FALSE(parsed.has_value()) << GetParam().text << " parsed as " << parsed->count() << "ms";
  EXPECT_EQ(parsed.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(parsed.error().message,
              AllOf(HasSubstr("--node-timeout"), HasSubstr("\"" + GetParam().text + "\""),
                    HasSubstr("500ms, 3s or 2m")));
}

INSTANTIATE_TEST_SUITE_P(
    Durations, InvalidDurationTest,
    ::testing::Values(InvalidCase{"NoUnit", "3"}, InvalidCase{"NoNumber", "s"},
                      InvalidCase{"Negative", "-1s"}, InvalidCase{"Empty", ""},
                      InvalidCase{"OnlyADot", ".s"}, InvalidCase{"TwoDots", "1.5.5s"},
                      InvalidCase{"FractionWithoutUnit", "1.5"}, InvalidCase{"UpperCaseUnit", "3S"},
                      InvalidCase{"LeadingSpace", " 3s"}, InvalidCase{"TrailingSpace", "3s "},
                      InvalidCase{"PlusSign", "+3s"}, InvalidCase{"LastPartWithoutUnit", "1m30"},
                      InvalidCase{"Days", "1d"}, InvalidCase{"NegativeSecondPart", "1m-30s"},
                      InvalidCase{"UnknownUnit", "5xs"},
                      InvalidCase{"FractionTooLarge", "277.7778h"},
                      InvalidCase{"SumTooLarge", "277h46m40s1ms"},
                      InvalidCase{"ZeroWithSpace", "0 "}, InvalidCase{"TooLarge", "1000000001s"},
                      InvalidCase{"Overflowing", "99999999999999999999s"}),
    [](const ::testing::TestParamInfo<InvalidCase>& paramInfo) { return paramInfo.param.label; });

// `--cert-expiry` takes up to 5 years, past the default bound.
TEST(LongDurationTest, TakesItsOwnBound) {
  constexpr std::int64_t kFiveYearsMs = 43'800LL * 3'600'000;
  auto fiveYears = parseDuration("43800h", "--cert-expiry", kFiveYearsMs);
  ASSERT_TRUE(fiveYears) << fiveYears.error().message;
  EXPECT_EQ(fiveYears->count(), kFiveYearsMs);
  EXPECT_EQ(parseDuration("2160h", "--cert-expiry", kFiveYearsMs)->count(), 2160LL * 3'600'000);

  auto over = parseDuration("43800h1s", "--cert-expiry", kFiveYearsMs);
  ASSERT_FALSE(over);
  EXPECT_NE(over.error().message.find("--cert-expiry"), std::string::npos);
  EXPECT_FALSE(parseDuration("2160h", "--node-timeout")) << "the default bound is unchanged";
  EXPECT_FALSE(parseDuration("99999999999999999999999h", "--cert-expiry", kFiveYearsMs));
}

}  // namespace
}  // namespace overmesh
