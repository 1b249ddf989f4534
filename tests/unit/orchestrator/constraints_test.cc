#include "orchestrator/constraints.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/orchestrator_fixtures.h"

namespace overmesh::orchestrator {
namespace {

using testing::clusterNode;
using ::testing::HasSubstr;

TEST(ConstraintsTest, ParsesEveryField) {
  auto id = parseConstraint("node.id==abc");
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(id->field, Constraint::Field::Id);
  EXPECT_TRUE(id->equal);
  EXPECT_EQ(id->value, "abc");

  auto host = parseConstraint("node.hostname!=h2");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->field, Constraint::Field::Hostname);
  EXPECT_FALSE(host->equal);
  EXPECT_EQ(host->value, "h2");

  auto role = parseConstraint("node.role==manager");
  ASSERT_TRUE(role);
  EXPECT_EQ(role->field, Constraint::Field::Role);

  auto label = parseConstraint("node.labels.zone==eu-1");
  ASSERT_TRUE(label);
  EXPECT_EQ(label->field, Constraint::Field::Label);
  EXPECT_EQ(label->label, "zone");
  EXPECT_EQ(label->value, "eu-1");
}

TEST(ConstraintsTest, AllowsBlanksAroundTheOperator) {
  auto parsed = parseConstraint("  node.labels.disk != ssd ");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->label, "disk");
  EXPECT_FALSE(parsed->equal);
  EXPECT_EQ(parsed->value, "ssd");
}

TEST(ConstraintsTest, LabelKeysMayContainDots) {
  auto parsed = parseConstraint("node.labels.com.example.rack==r1");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->label, "com.example.rack");
}

struct BadConstraint {
  std::string expression;
  std::string expectedText;
};

class InvalidConstraintTest : public ::testing::TestWithParam<BadConstraint> {};

TEST_P(InvalidConstraintTest, IsRefusedNamingTheExpressionAndValidForms) {
  auto parsed = parseConstraint(GetParam().expression);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(parsed.error().message, HasSubstr("\"" + GetParam().expression + "\""));
  EXPECT_THAT(parsed.error().message, HasSubstr(GetParam().expectedText));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InvalidConstraintTest,
    ::testing::Values(
        BadConstraint{"node.hostname=h1", "no == or != operator"},
        BadConstraint{"node.hostname", "valid forms: node.id==ID, node.hostname==NAME"},
        BadConstraint{"node.hostname==", "empty value"},
        BadConstraint{"node.hostname==a==b", "more than one operator"},
        BadConstraint{"node.name==h1", "unknown field \"node.name\""},
        BadConstraint{"engine.labels.os==linux", "node.labels.KEY==VALUE"},
        BadConstraint{"node.labels.==x", "unknown field \"node.labels.\""},
        BadConstraint{"==x", "unknown field \"\""},
        BadConstraint{"node.role==boss", "node.role is \"boss\"; valid roles: manager, worker"}));

TEST(ConstraintsTest, ParseConstraintsStopsAtTheFirstBadOne) {
  auto parsed = parseConstraints({"node.role==worker", "node.zone==a"});
  ASSERT_FALSE(parsed);
  EXPECT_THAT(parsed.error().message, HasSubstr("node.zone==a"));

  auto good = parseConstraints({"node.role==worker", "node.labels.zone==a"});
  ASSERT_TRUE(good);
  EXPECT_EQ(good->size(), 2u);
}

TEST(ConstraintsTest, MatchesEveryFieldWithEqualAndNotEqual) {
  api::Node node = clusterNode("id1", "h1", "ready", "manager", {{"zone", "a"}});
  auto check = [&](const std::string& expression) {
    auto parsed = parseConstraints({expression});
    EXPECT_TRUE(parsed) << expression;
    return parsed && matches(node, *parsed);
  };
  EXPECT_TRUE(check("node.id==id1"));
  EXPECT_FALSE(check("node.id!=id1"));
  EXPECT_TRUE(check("node.hostname==h1"));
  EXPECT_TRUE(check("node.hostname!=h2"));
  EXPECT_TRUE(check("node.role==manager"));
  EXPECT_FALSE(check("node.role==worker"));
  EXPECT_TRUE(check("node.labels.zone==a"));
  EXPECT_FALSE(check("node.labels.zone!=a"));
  EXPECT_FALSE(check("node.labels.zone==b"));
}

TEST(ConstraintsTest, AMissingLabelFailsEqualAndSatisfiesNotEqual) {
  api::Node node = clusterNode("id1", "h1");
  EXPECT_FALSE(matches(node, *parseConstraints({"node.labels.zone==a"})));
  EXPECT_TRUE(matches(node, *parseConstraints({"node.labels.zone!=a"})));
}

TEST(ConstraintsTest, AllConstraintsMustHold) {
  api::Node node = clusterNode("id1", "h1", "ready", "worker", {{"zone", "a"}});
  EXPECT_TRUE(matches(node, *parseConstraints({})));
  EXPECT_TRUE(matches(node, *parseConstraints({"node.role==worker", "node.labels.zone==a"})));
  EXPECT_FALSE(matches(node, *parseConstraints({"node.role==worker", "node.labels.zone==b"})));
}

TEST(ConstraintsTest, ToStringIsCanonical) {
  EXPECT_EQ(toString(*parseConstraint(" node.labels.zone !=  a")), "node.labels.zone!=a");
  EXPECT_EQ(toString(*parseConstraint("node.role == worker")), "node.role==worker");
  EXPECT_EQ(toString(*parseConstraint("node.id==x")), "node.id==x");
  EXPECT_EQ(toString(*parseConstraint("node.hostname==h")), "node.hostname==h");
}

}  // namespace
}  // namespace overmesh::orchestrator
