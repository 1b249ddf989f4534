#include "cli/registry_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace overmesh::cli {
namespace {

using ::testing::HasSubstr;

TEST(RegistryFlags, AListGivenReplacesAClearFlagEmptiesAndTheRestIsLeftOut) {
  RegistryFlags flags;
  flags.insecureRegistries = {"198.18.0.101:5000"};
  flags.clearRegistryMirrors = true;
  auto request = swarmUpdateFromFlags(flags);
  ASSERT_TRUE(request) << request.error().message;
  EXPECT_EQ(request->insecureRegistries, std::vector<std::string>{"198.18.0.101:5000"});
  ASSERT_TRUE(request->registryMirrors);
  EXPECT_TRUE(request->registryMirrors->empty());
  EXPECT_EQ(nlohmann::json(*request).dump(),
            R"({"insecureRegistries":["198.18.0.101:5000"],"registryMirrors":[]})");

  RegistryFlags mirrorsOnly;
  mirrorsOnly.registryMirrors = {"http://198.18.0.102:5000"};
  auto mirrors = swarmUpdateFromFlags(mirrorsOnly);
  ASSERT_TRUE(mirrors);
  EXPECT_FALSE(mirrors->insecureRegistries);
}

TEST(RegistryFlags, AListAndItsClearFlagContradict) {
  RegistryFlags flags;
  flags.registryMirrors = {"http://198.18.0.102:5000"};
  flags.clearRegistryMirrors = true;
  auto refused = swarmUpdateFromFlags(flags);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("--clear-registry-mirrors and --registry-mirror"));
}

TEST(RegistryFlags, AnUpdateWithNothingToChangeIsRefused) {
  auto refused = swarmUpdateFromFlags({});
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("nothing to change"));
}

TEST(RegistryFlags, SettingsAreShownOneListPerLine) {
  auto shown = formatRegistrySettings(nlohmann::json::parse(
      R"({"insecureRegistries":["a.lab:5000","b.lab"],"registryMirrors":[]})"));
  EXPECT_EQ(shown, "Insecure registries: a.lab:5000, b.lab\nRegistry mirrors:    (none)\n");
}

}  // namespace
}  // namespace overmesh::cli
