#pragma once

// Pure validation of a network create request, before any allocation: name, driver,
// labels and options. Separate from NetworkManager so it is tested without a Store.

#include "api/types.h"
#include "common/error.h"

namespace overmesh::manager {

// Docker's rule for object names: a letter or digit, then letters, digits, '_', '.', '-';
// at most 63 characters so that derived kernel names stay short.
Status validateObjectName(std::string_view kind, const std::string& name);

// Fails with InvalidArgument naming the field, the value and what is valid.
Status validateNetworkCreate(const api::NetworkCreateRequest& request);

}  // namespace overmesh::manager
