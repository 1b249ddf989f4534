#include "stack/convert.h"

// Placeholder: implemented on the issue-11 branch.
