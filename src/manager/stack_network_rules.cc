#include "manager/stack_network_rules.h"

// Placeholder: implemented on the issue-11 branch.
