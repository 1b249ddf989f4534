#include "compose/merge.h"

// Placeholder: implemented on the issue-11 branch.
