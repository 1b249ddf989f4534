#include "compose/compose.h"

// Placeholder: implemented on the issue-11 branch.
