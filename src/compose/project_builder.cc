#include "compose/project_builder.h"

// Interim, on branch st-core only: lane st-schema owns this file and its real
// buildProject replaces this one at merge (take st-schema's version). Until then the
// pipeline stops here with an error, never with a made-up Project; unit_compose_core's
// tests that need the schema skip on exactly this message.

namespace overmesh::compose {

Result<Project> buildProject(const Value&, const Environment&, const FileReader&, Warnings&) {
  return errorf(ErrorKind::Internal,
                "buildProject: the compose schema is not in this build yet (lane st-schema)");
}

}  // namespace overmesh::compose
