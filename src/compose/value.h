#pragma once

// A compose file as a tree of our own (issue 11), so that every later step (interpolation,
// merging several -c files, the schema, `stack config`) works on one bounded structure
// that remembers where each value came from. yaml-cpp is used only to read the text:
// parseYaml() copies its nodes into a Value, expanding anchors/aliases and `<<` merge keys
// under LoadLimits, so a "billion laughs" file is refused instead of exhausting memory or
// time in a later walk.
//
// Scalars keep their text as written (YAML 1.1 plain scalars like `yes`, `3.9`, `0777`
// are not typed here): the schema (project_builder.h) decides what a key's text means,
// as compose does after interpolation.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace overmesh::compose {

// Where a value was written: the file as the user named it (`-c` argument) and a 1-based
// line and column. line 0 = made by the program (a default, a merge result).
struct Mark {
  std::string file;
  int line = 0;
  int column = 0;
};

class Value {
 public:
  enum class Kind { Null, Scalar, Sequence, Mapping };
  using Entry = std::pair<Value, Value>;  // key (a Scalar), value

  Kind kind = Kind::Null;
  Mark mark;
  // Scalar: the text. `quoted` is true when the YAML scalar was quoted or a block scalar
  // (then "null", "true", "3" are strings, not null/bool/number).
  std::string text;
  bool quoted = false;
  std::vector<Value> items;     // Sequence
  std::vector<Entry> entries;   // Mapping, in file order; keys are unique

  bool isNull() const { return kind == Kind::Null; }
  bool isScalar() const { return kind == Kind::Scalar; }
  bool isSequence() const { return kind == Kind::Sequence; }
  bool isMapping() const { return kind == Kind::Mapping; }

  // Mapping: the value under `key`, or nullptr.
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);

  static Value scalar(std::string text, Mark mark = {});
  static Value mapping(Mark mark = {});
  static Value sequence(Mark mark = {});
};

// Bounds on what one file may expand to. A file beyond them is refused with a message that
// names the file, the limit and the line where it was reached.
struct LoadLimits {
  std::size_t maxBytes = 4 * 1024 * 1024;  // the file's size
  std::size_t maxDepth = 64;               // nesting of sequences and mappings
  std::size_t maxNodes = 200'000;          // Values after anchors/aliases are expanded
  std::size_t maxScalarBytes = 1024 * 1024;
  // The bytes of all scalars (keys included) after anchors/aliases are expanded: 200,000
  // aliases of one 1 MB scalar fit in a 4 MB file and the node budget.
  std::size_t maxExpandedBytes = 32 * 1024 * 1024;
};

// Parses one YAML document (a compose file) into a Value. `file` names it in marks and
// errors. InvalidArgument for: bad YAML (yaml-cpp's message with the line), more than one
// document, a duplicate key, a non-scalar key, a limit exceeded. Never throws.
Result<Value> parseYaml(std::string_view text, const std::string& file,
                        const LoadLimits& limits = {});

// What a value is, for messages: "an empty value", "a single value", "a list", "a mapping".
std::string_view describeKind(const Value& value);

// The dotted path of a key for messages: {"services","web","deploy","replicas"} →
// "services.web.deploy.replicas"; a sequence index as "ports[1]".
std::string keyPath(const std::vector<std::string>& parts);

}  // namespace overmesh::compose
