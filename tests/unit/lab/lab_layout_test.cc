// The lab's naming rules, which decide what `lab exec` runs in and what `lab down` deletes:
// a lab must claim its own hosts and clients and never a namespace that only shares its
// prefix.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lab/lab_internal.h"

namespace overmesh::lab::internal {
namespace {

TEST(LabLayoutTest, ClientsGetAddressesAboveTheHosts) {
  EXPECT_EQ(clientAddress(1).toString(), "198.18.0.101");
  EXPECT_EQ(clientAddress(kMaxClients).toString(), "198.18.0.120");
  LabClient client = describeClient("/run/x", "om", 3);
  EXPECT_EQ(client.name, "c3");
  EXPECT_EQ(client.namespaceName, "om-c3");
  EXPECT_EQ(client.address, "198.18.0.103");
  EXPECT_EQ(client.dir, "/run/x/om/c3");
}

TEST(LabLayoutTest, ClaimsItsClientsButNotLookalikes) {
  EXPECT_TRUE(isLabNamespace("om", "om-c1"));
  EXPECT_TRUE(isLabNamespace("om", "om-c20"));
  EXPECT_TRUE(isLabNamespace("om", "om-h2"));
  EXPECT_FALSE(isLabNamespace("om", "om-c"));
  EXPECT_FALSE(isLabNamespace("om", "om-cx"));
  EXPECT_FALSE(isLabNamespace("om", "om-c123"));
  EXPECT_FALSE(isLabNamespace("om", "omx-c1"));
  EXPECT_FALSE(isLabNamespace("o", "om-c1"));
}

TEST(LabLayoutTest, ExecTargetsNameAHostOrAClient) {
  struct Case {
    std::string lab;
    std::string target;
    bool client;
    int index;
  };
  std::vector<Case> cases = {
      {"om", "2", false, 2},     {"om", "h2", false, 2},     {"om", "om-h2", false, 2},
      {"om", "c1", true, 1},     {"om", "client1", true, 1}, {"om", "om-c1", true, 1},
      {"om", "c20", true, 20},   {"cx", "cx-h2", false, 2},  {"cx", "cx-c3", true, 3},
      {"c1", "c1-h1", false, 1}, {"c1", "c1-c2", true, 2},
  };
  for (const auto& c : cases) {
    auto target = resolveExecTarget(c.lab, c.target);
    ASSERT_TRUE(target.has_value()) << c.lab << " " << c.target << ": " << target.error().message;
    EXPECT_EQ(target->client, c.client) << c.target;
    EXPECT_EQ(target->index, c.index) << c.target;
  }
}

TEST(LabLayoutTest, RefusesTargetsThatAreNeitherWithBothForms) {
  for (std::string bad : {"c0", "c", "x9", "client", "h0", "om-x1", ""}) {
    auto target = resolveExecTarget("om", bad);
    ASSERT_FALSE(target.has_value()) << bad;
    EXPECT_EQ(target.error().kind, ErrorKind::InvalidArgument);
    EXPECT_NE(target.error().message.find("not a lab host or client"), std::string::npos)
        << target.error().message;
    EXPECT_NE(target.error().message.find("c1"), std::string::npos) << target.error().message;
  }
  auto tooMany = resolveExecTarget("om", "c21");
  ASSERT_FALSE(tooMany.has_value());
  EXPECT_NE(tooMany.error().message.find("at most 20"), std::string::npos)
      << tooMany.error().message;
}

}  // namespace
}  // namespace overmesh::lab::internal
