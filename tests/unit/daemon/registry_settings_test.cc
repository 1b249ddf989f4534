// The registry settings record as the agent's cache holds it, turned into the node's
// registries.conf (daemon/registry_settings_applier.h).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/registry_settings_applier.h"

namespace overmesh::daemon {
namespace {

using ::testing::HasSubstr;

TEST(RegistriesConfOfRecordTest, AbsentRecordMeansNoSettings) {
  auto text = registriesConfOfRecord(std::nullopt);
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_THAT(*text, HasSubstr("unqualified-search-registries = [\"docker.io\"]"));
  EXPECT_THAT(*text, ::testing::Not(HasSubstr("[[registry]]")));
}

TEST(RegistriesConfOfRecordTest, DecodesTheClustersSettings) {
  auto text = registriesConfOfRecord(
      R"({"insecureRegistries":["198.18.0.101:5000"],"registryMirrors":["http://198.18.0.101:5000"]})");
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_THAT(*text, HasSubstr("location = \"198.18.0.101:5000\"\ninsecure = true"));
  EXPECT_THAT(*text, HasSubstr("[[registry.mirror]]"));
}

TEST(RegistriesConfOfRecordTest, RefusesABadRecordNamingIt) {
  auto garbage = registriesConfOfRecord("{not json");
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(garbage.error().message, HasSubstr("registry settings"));
  auto hostile = registriesConfOfRecord(R"({"insecureRegistries":["a\"\n[[registry]]"]})");
  ASSERT_FALSE(hostile);
  EXPECT_THAT(hostile.error().message, HasSubstr("insecure registry"));
}

}  // namespace
}  // namespace overmesh::daemon
