#include "compose/interpolation.h"

// Placeholder: implemented on the issue-11 branch.
