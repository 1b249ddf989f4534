#include "manager/stack_service_plan.h"

// Placeholder: implemented on the issue-11 branch.
