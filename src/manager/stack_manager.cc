#include "manager/stack_manager.h"

// Placeholder: implemented on the issue-11 branch.
