#include "manager/object_lookup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "common/error.h"

namespace overmesh::manager {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// IDs chosen so that "abc" is an ambiguous prefix and "abd" a unique one.
const std::vector<NamedObject> kObjects = {
    {"abc0000000000000000000001", "frontend"},
    {"abc0000000000000000000002", "backend"},
    {"abd0000000000000000000003", "storage"},
};

struct LookupCase {
  std::string label;
  std::string reference;
  std::size_t index;
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const LookupCase& c, std::ostream* os) { *os << c.label; }

class FindByReferenceTest : public ::testing::TestWithParam<LookupCase> {};

TEST_P(FindByReferenceTest, FindsTheObject) {
  auto found = findByReference("network", kObjects, GetParam().reference);

  ASSERT_TRUE(found.has_value()) << found.error().message;
  EXPECT_EQ(*found, GetParam().index);
}

INSTANTIATE_TEST_SUITE_P(
    References, FindByReferenceTest,
    ::testing::Values(LookupCase{"FullId", "abc0000000000000000000002", 1},
                      LookupCase{"Name", "storage", 2}, LookupCase{"UniqueIdPrefix", "abd", 2},
                      LookupCase{"TwelveCharacterShortId", "abd000000000", 2},
                      LookupCase{"PrefixOneShortOfTheFullId", "abd000000000000000000000", 2}),
    [](const ::testing::TestParamInfo<LookupCase>& paramInfo) { return paramInfo.param.label; });

TEST(FindByReferenceRulesTest, AFullIdWinsOverANameThatEqualsIt) {
  // Docker's order: ID first, then name, then prefix.
  std::vector<NamedObject> objects = {{"aaa", "bbb"}, {"bbb", "ccc"}};

  EXPECT_EQ(findByReference("network", objects, "bbb").value(), 1u);
}

TEST(FindByReferenceRulesTest, ANameWinsOverAnIdPrefixThatMatchesIt) {
  std::vector<NamedObject> objects = {{"abc0000000000000000000001", "one"}, {"zzz", "abc"}};

  EXPECT_EQ(findByReference("network", objects, "abc").value(), 1u);
}

TEST(FindByReferenceRulesTest, AnAmbiguousPrefixIsInvalidArgumentListingTheCandidates) {
  auto found = findByReference("network", kObjects, "abc");

  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(found.error().message,
              AllOf(HasSubstr("ambiguous"), HasSubstr("\"abc\""),
                    HasSubstr("frontend (abc0000000000000000000001)"),
                    HasSubstr("backend (abc0000000000000000000002)"), Not(HasSubstr("storage"))));
}

TEST(FindByReferenceRulesTest, AnUnknownReferenceIsNotFoundNamingKindAndReference) {
  auto found = findByReference("network", kObjects, "nosuch");

  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error().kind, ErrorKind::NotFound);
  EXPECT_THAT(found.error().message, AllOf(HasSubstr("network"), HasSubstr("nosuch")));
}

TEST(FindByReferenceRulesTest, NothingIsFoundAmongNoObjects) {
  auto found = findByReference("network", {}, "frontend");

  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error().kind, ErrorKind::NotFound);
}

TEST(FindByReferenceRulesTest, AnEmptyReferenceIsInvalidArgument) {
  auto found = findByReference("network", kObjects, "");

  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(found.error().message, HasSubstr("network name or ID is required"));
}

TEST(FindByReferenceRulesTest, MatchingIsCaseSensitive) {
  auto found = findByReference("network", kObjects, "FRONTEND");

  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error().kind, ErrorKind::NotFound);
}

}  // namespace
}  // namespace overmesh::manager
