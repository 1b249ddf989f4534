#include "compose/project_builder.h"

// Placeholder: implemented on the issue-11 branch.
