#include "store/open_store.h"

#include "store/etcd/etcd_store.h"
#include "store/sqlite/sqlite_store.h"

namespace overmesh::store {

Result<std::unique_ptr<Store>> openStore(const StoreLocation& location,
                                         const std::string& sqlitePath, const Clock& clock) {
  if (location.isEtcd()) {
    auto etcd = EtcdStore::open(EtcdStoreOptions::from(location));
    if (!etcd) {
      return std::unexpected(etcd.error());
    }
    return std::unique_ptr<Store>(std::move(*etcd));
  }
  auto sqlite = SqliteStore::open(sqlitePath, clock);
  if (!sqlite) {
    return std::unexpected(sqlite.error());
  }
  return std::unique_ptr<Store>(std::move(*sqlite));
}

}  // namespace overmesh::store
