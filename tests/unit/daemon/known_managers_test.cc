// The managers a worker saved: where its agent starts after a restart.

#include "daemon/known_managers.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/pki_fixtures.h"
#include "support/scratch.h"

namespace overmesh::daemon {
namespace {

using overmesh::testing::must;

TEST(KnownManagers, SavedAndLoaded) {
  overmesh::testing::ScratchDir dir;
  EXPECT_FALSE(must(loadKnownManagers(dir.path().string())));
  KnownManagers known{"node1", {"198.18.0.2:2377", "198.18.0.1:2377"}, "198.18.0.2:2377"};
  must(saveKnownManagers(dir.path().string(), known));
  auto loaded = must(loadKnownManagers(dir.path().string()));
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->nodeId, "node1");
  EXPECT_EQ(loaded->managers, known.managers);
  EXPECT_EQ(loaded->leader, known.leader);
  must(removeKnownManagers(dir.path().string()));
  EXPECT_FALSE(must(loadKnownManagers(dir.path().string())));
}

TEST(KnownManagers, ACorruptFileIsAnErrorNamingIt) {
  overmesh::testing::ScratchDir dir;
  std::ofstream(dir.path() / "managers.json") << "{\"managers\": 3";
  auto loaded = loadKnownManagers(dir.path().string());
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("managers.json"), std::string::npos);
}

TEST(KnownManagers, StartsAtTheSavedLeaderThenTheOthersThenTheJoinedManager) {
  KnownManagers known{"node1", {"198.18.0.2:2377", "198.18.0.3:2377"}, "198.18.0.3:2377"};
  EXPECT_EQ(startingManagers("198.18.0.1:2377", known, "node1"),
            (std::vector<std::string>{"198.18.0.3:2377", "198.18.0.2:2377", "198.18.0.1:2377"}));
}

TEST(KnownManagers, AnotherNodesListIsIgnored) {
  KnownManagers known{"old-node", {"198.18.0.9:2377"}, ""};
  EXPECT_EQ(startingManagers("198.18.0.1:2377", known, "node1"),
            (std::vector<std::string>{"198.18.0.1:2377"}));
  EXPECT_EQ(startingManagers("198.18.0.1:2377", std::nullopt, "node1"),
            (std::vector<std::string>{"198.18.0.1:2377"}));
}

}  // namespace
}  // namespace overmesh::daemon
