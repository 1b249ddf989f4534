#pragma once

// Opens the Store a StoreLocation names: the SQLite file at `sqlitePath` (created when
// missing) or the etcd cluster. Callers see only store::Store.

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/error.h"
#include "store/store.h"
#include "store/store_location.h"

namespace overmesh::store {

Result<std::unique_ptr<Store>> openStore(const StoreLocation& location,
                                         const std::string& sqlitePath, const Clock& clock);

}  // namespace overmesh::store
