// The one rule for object names (common/object_name.h) that the CLI's stack conversion and
// the manager share.

#include "common/object_name.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace overmesh {
namespace {

TEST(ObjectNameTest, AcceptsDockerNames) {
  for (const std::string& name : std::vector<std::string>{"a", "web", "web_default", "9lives",
                                                          "chaos.net-2_x", std::string(63, 'a')}) {
    EXPECT_TRUE(isValidObjectName(name)) << name;
  }
}

TEST(ObjectNameTest, RefusesEverythingElse) {
  for (const std::string& name :
       std::vector<std::string>{"", std::string(64, 'a'), "-web", "_web", ".web", "bad/name",
                                "web app", "web\n", "caf\xc3\xa9", std::string("we\0b", 4)}) {
    EXPECT_FALSE(isValidObjectName(name)) << name;
  }
}

}  // namespace
}  // namespace overmesh
