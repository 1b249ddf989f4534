#include "manager/network_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>

#include "api/types.h"
#include "common/error.h"

namespace overmesh::manager {
namespace {

using ::testing::HasSubstr;

// --- validateObjectName ---------------------------------------------------------------------

class ValidObjectNameTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ValidObjectNameTest, IsAccepted) {
  auto valid = validateObjectName("network", GetParam());
  EXPECT_TRUE(valid.has_value()) << valid.error().message;
}

INSTANTIATE_TEST_SUITE_P(Names, ValidObjectNameTest,
                         ::testing::Values("a", "7", "frontend", "Front_End", "my.net", "my-net",
                                           "a-", "0_._-", std::string(63, 'x')));

struct BadNameCase {
  std::string label;
  std::string name;
  std::string messageFragment;
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const BadNameCase& c, std::ostream* os) { *os << c.label; }

class InvalidObjectNameTest : public ::testing::TestWithParam<BadNameCase> {};

TEST_P(InvalidObjectNameTest, IsInvalidArgumentNamingKindAndProblem) {
  auto valid = validateObjectName("network", GetParam().name);

  ASSERT_FALSE(valid.has_value());
  EXPECT_EQ(valid.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(valid.error().message, HasSubstr("network name"));
  EXPECT_THAT(valid.error().message, HasSubstr(GetParam().messageFragment));
}

INSTANTIATE_TEST_SUITE_P(
    Names, InvalidObjectNameTest,
    ::testing::Values(BadNameCase{"Empty", "", "is required"},
                      BadNameCase{"SixtyFourCharacters", std::string(64, 'x'), "at most 63"},
                      BadNameCase{"LeadingDash", "-net", "starting with a letter or digit"},
                      BadNameCase{"LeadingDot", ".net", "starting with a letter or digit"},
                      BadNameCase{"LeadingUnderscore", "_net", "starting with a letter or digit"},
                      BadNameCase{"Space", "my net", "\"my net\""},
                      BadNameCase{"Slash", "a/b", "\"a/b\""},
                      BadNameCase{"Colon", "a:b", "\"a:b\""},
                      BadNameCase{"NonAscii", "r\xc3\xa9seau", "not valid"}),
    [](const ::testing::TestParamInfo<BadNameCase>& paramInfo) { return paramInfo.param.label; });

TEST(ValidateObjectNameTest, MessageNamesTheKindItWasGiven) {
  auto valid = validateObjectName("service", "");

  ASSERT_FALSE(valid.has_value());
  EXPECT_THAT(valid.error().message, HasSubstr("service name"));
}

// --- validateNetworkCreate ------------------------------------------------------------------

api::NetworkCreateRequest validRequest() {
  api::NetworkCreateRequest request;
  request.name = "frontend";
  return request;
}

TEST(ValidateNetworkCreateTest, AcceptsANameAlone) {
  EXPECT_TRUE(validateNetworkCreate(validRequest()).has_value());
}

TEST(ValidateNetworkCreateTest, AcceptsSubnetGatewayLabelsAndFlags) {
  api::NetworkCreateRequest request = validRequest();
  request.subnet = "10.9.0.0/24";
  request.gateway = "10.9.0.1";
  request.attachable = true;
  request.internal = true;
  request.labels = {{"team", "payments"}, {"empty-value", ""}};

  auto valid = validateNetworkCreate(request);
  EXPECT_TRUE(valid.has_value()) << valid.error().message;
}

TEST(ValidateNetworkCreateTest, AcceptsAnMtuOption) {
  api::NetworkCreateRequest request{.name = "n"};
  request.options = {{api::kNetworkMtuOption, "1400"}};
  EXPECT_TRUE(validateNetworkCreate(request));
}

TEST(ValidateNetworkCreateTest, AcceptsASubnetWithoutAGateway) {
  api::NetworkCreateRequest request = validRequest();
  request.subnet = "10.9.0.0/24";

  EXPECT_TRUE(validateNetworkCreate(request).has_value());
}

struct BadCreateCase {
  std::string label;
  std::function<void(api::NetworkCreateRequest&)> spoil;
  std::string messageFragment;
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const BadCreateCase& c, std::ostream* os) { *os << c.label; }

class InvalidNetworkCreateTest : public ::testing::TestWithParam<BadCreateCase> {};

TEST_P(InvalidNetworkCreateTest, IsInvalidArgumentNamingTheProblem) {
  api::NetworkCreateRequest request = validRequest();
  GetParam().spoil(request);

  auto valid = validateNetworkCreate(request);

  ASSERT_FALSE(valid.has_value());
  EXPECT_EQ(valid.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(valid.error().message, HasSubstr(GetParam().messageFragment));
}

INSTANTIATE_TEST_SUITE_P(
    Requests, InvalidNetworkCreateTest,
    ::testing::Values(BadCreateCase{"BadName", [](auto& r) { r.name = "-x"; },
                                    "network name \"-x\""},
                      BadCreateCase{"BridgeDriver", [](auto& r) { r.driver = "bridge"; },
                                    "driver \"bridge\" is not supported"},
                      BadCreateCase{"EmptyDriver", [](auto& r) { r.driver = ""; }, "driver \"\""},
                      BadCreateCase{"LabelWithEmptyKey",
                                    [](auto& r) {
                                      r.labels = {{"", "value"}};
                                    },
                                    "label \"=value\" has an empty key"},
                      BadCreateCase{"Encrypted",
                                    [](auto& r) {
                                      r.options = {{"encrypted", "true"}};
                                    },
                                    "option \"encrypted=true\" is not supported: overmesh "
                                    "does not encrypt"},
                      BadCreateCase{"UnknownOption",
                                    [](auto& r) {
                                      r.options = {{"com.docker.network.driver.overlay."
                                                    "vxlanid_list",
                                                    "4097"}};
                                    },
                                    "the one option overmesh honours is "
                                    "com.docker.network.driver.mtu=BYTES"},
                      BadCreateCase{"MtuNotANumber",
                                    [](auto& r) {
                                      r.options = {{"com.docker.network.driver.mtu", "big"}};
                                    },
                                    "the MTU must be a whole number from 576 to 9000"},
                      BadCreateCase{"MtuTooSmall",
                                    [](auto& r) {
                                      r.options = {{"com.docker.network.driver.mtu", "100"}};
                                    },
                                    "the MTU must be a whole number from 576 to 9000"},
                      BadCreateCase{"GatewayWithoutSubnet", [](auto& r) { r.gateway = "10.9.0.1"; },
                                    "gateway 10.9.0.1 was given without a subnet"}),
    [](const ::testing::TestParamInfo<BadCreateCase>& paramInfo) { return paramInfo.param.label; });

}  // namespace
}  // namespace overmesh::manager
