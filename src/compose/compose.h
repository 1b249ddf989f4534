#pragma once

// Loading a stack's compose files (issue 11), the order compose uses:
//   1. parseYaml each file (value.h), bounded;
//   2. interpolate each file's values from the environment (interpolation.h);
//   3. merge the files in order (merge.h): later files override earlier ones;
//   4. check the merged tree against the schema and build the typed Project
//      (project_builder.h), reading env_file files through the injected FileReader.
// Every error is InvalidArgument and names the file, the line, the key's path and what is
// valid, e.g.
//   web.yml:12: services.web.deploy.replicas: "three" is not a number: use a whole
//   number ≥ 0
// Nothing here touches the cluster; the CLI runs it before sending anything.

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "compose/project.h"
#include "compose/value.h"

namespace overmesh::compose {

// The deploying environment (`$VAR` values): the CLI passes its process environment.
using Environment = std::map<std::string, std::string>;

// Reads a file named by a compose file (env_file) or by `-c`: its bytes, or NotFound /
// InvalidArgument with the path. Injected so that the loader is pure in tests.
using FileReader = std::function<Result<std::string>(const std::string& path)>;

// One `-c FILE` argument: the name as given (for messages and for relative paths) and,
// when already read (stdin `-c -`), its text.
struct ComposeSource {
  std::string path;
  std::optional<std::string> text;
};

// What a deploy should tell the user without failing (Docker prints them on stderr):
//   "Ignoring unsupported options: build, links"
//   "Ignoring deprecated options: container_name (…why…), expose (…why…)"
//   "The \"TAG\" variable is not set. Defaulting to a blank string."
// Each distinct line once, in the order found; at most kMaxWarningLines of them, then
// "… and N more warnings".
using Warnings = std::vector<std::string>;
inline constexpr std::size_t kMaxWarningLines = 50;

struct LoadedCompose {
  Value merged;     // interpolated and merged: what `stack config` prints
  Project project;  // typed and validated
  Warnings warnings;
};

// Steps 1-3 of loadCompose (read, parse, interpolate, merge): the merged tree and the
// warnings so far, without the schema. The same errors as loadCompose for those steps.
struct MergedCompose {
  Value merged;
  Warnings warnings;
};
Result<MergedCompose> loadMerged(const std::vector<ComposeSource>& sources,
                                 const Environment& environment, const FileReader& readFile,
                                 const LoadLimits& limits = {});

// The whole pipeline. InvalidArgument "at least one compose file (-c FILE) is needed" for
// no sources; a FileReader's error as it gave it (naming the path). `readFile` reads `-c` paths
// without text and env_file paths.
Result<LoadedCompose> loadCompose(const std::vector<ComposeSource>& sources,
                                  const Environment& environment, const FileReader& readFile,
                                  const LoadLimits& limits = {});

// The directory relative paths (bind sources, env_file) are resolved against, as
// docker/cli does: the directory of the FIRST -c file, whichever file names the path
// ("stacks/web.yml" → "stacks", "web.yml" → "."; "-" (stdin) → ".", the current directory).
std::string workingDirectory(const std::string& firstFile);

// A FileReader over the local filesystem, refusing files larger than `maxBytes`.
FileReader localFileReader(std::size_t maxBytes = 4 * 1024 * 1024);

// `stack config`: the merged tree as YAML (keys in file order, strings quoted where YAML
// would otherwise read them as another type; `$` in values written `$$`, since the output
// is interpolated again when deployed), so that its output loads back to the same Project.
std::string emitYaml(const Value& value);

}  // namespace overmesh::compose
