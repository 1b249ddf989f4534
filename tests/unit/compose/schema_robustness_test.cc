// buildProject on damaged versions of a real file: every node of the real-world fixture is
// replaced, one at a time, by each kind of value. Whatever the result, it must come back
// as a Project or an InvalidArgument that names the file, never as a crash or another kind.

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "compose/project_builder.h"
#include "support/compose_schema_fixtures.h"

namespace overmesh::compose {
namespace {

// Every node of `root`, in document order (the root included).
void collectNodes(Value& root, std::vector<Value*>& nodes) {
  nodes.push_back(&root);
  for (Value& item : root.items) {
    collectNodes(item, nodes);
  }
  for (auto& [key, value] : root.entries) {
    collectNodes(value, nodes);
  }
}

std::vector<Value> replacements() {
  Mark mark{"realworld/stack.yml", 99, 1};
  Value list = Value::sequence(mark);
  list.items.push_back(Value::scalar("x", mark));
  Value mapping = Value::mapping(mark);
  mapping.entries.emplace_back(Value::scalar("k", mark), Value::scalar("-1", mark));
  Value null;
  null.mark = mark;
  return {null,
          Value::scalar("", mark),
          Value::scalar("x", mark),
          Value::scalar("-99999999999999999999", mark),
          Value::scalar("\xff\x01", mark),
          list,
          mapping};
}

TEST(SchemaRobustnessTest, EveryDamagedNodeGivesAProjectOrANamedInvalidArgument) {
  auto text = testing::readSchemaFixture("realworld/stack.yml");
  ASSERT_TRUE(text.has_value());
  auto original = parseYaml(*text, "realworld/stack.yml");
  ASSERT_TRUE(original.has_value()) << original.error().message;

  std::size_t nodeCount = 0;
  {
    Value copy = *original;
    std::vector<Value*> nodes;
    collectNodes(copy, nodes);
    nodeCount = nodes.size();
  }
  std::size_t refused = 0;
  for (std::size_t index = 0; index < nodeCount; ++index) {
    for (const Value& replacement : replacements()) {
      Value damaged = *original;
      std::vector<Value*> nodes;
      collectNodes(damaged, nodes);
      *nodes[index] = replacement;
      Warnings warnings;
      auto project = buildProject(damaged, {}, testing::fixtureReader(), warnings, ".");
      if (!project) {
        ++refused;
        EXPECT_EQ(project.error().kind, ErrorKind::InvalidArgument) << project.error().message;
        EXPECT_TRUE(project.error().message.starts_with("realworld/stack.yml:"))
            << project.error().message;
      }
    }
  }
  // Most damage must be noticed: a schema that accepted everything would pass the loop.
  EXPECT_GT(refused, nodeCount * 3);
}

}  // namespace
}  // namespace overmesh::compose
